package io.tempera.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import org.junit.jupiter.api.Test;

class ApiErrorHandlerTest {

  final ApiErrorHandler handler = new ApiErrorHandler();

  @Test
  void aClientThatWentAwayIsNoErrorAndGetsNoAnswer() {
    assertThat(handler.unexpected(new IOException("Broken pipe"))).isNull();
    assertThat(
            handler.unexpected(new RuntimeException(new IOException("Connection reset by peer"))))
        .isNull();
  }

  @Test
  void anythingElseUnexpectedIsA500WithoutDetails() {
    var response = handler.unexpected(new IllegalStateException("secret internals"));
    assertThat(response.getStatusCode().value()).isEqualTo(500);
    assertThat(response.getBody().code()).isEqualTo("INTERNAL");
    assertThat(response.getBody().message()).doesNotContain("secret");
  }
}
