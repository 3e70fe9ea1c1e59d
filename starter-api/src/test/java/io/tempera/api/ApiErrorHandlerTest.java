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

  @Test
  void aClientErrorKeepsItsStatusWithAStableCodeAndNoInternals() {
    var response =
        handler.unexpected(
            new org.springframework.web.server.ResponseStatusException(
                org.springframework.http.HttpStatus.NOT_FOUND,
                "No static resource /work/secret/file.txt"));
    assertThat(response.getStatusCode().value()).isEqualTo(404);
    assertThat(response.getBody().code()).isEqualTo("NOT_FOUND");
    assertThat(response.getBody().message()).doesNotContain("/work").doesNotContain("static");
  }

  @Test
  void aBodyOverTheLimitIsA413WhereverTheLimitWasHit() {
    var response =
        handler.unexpected(
            new org.springframework.core.codec.DecodingException(
                "too big",
                new org.springframework.core.io.buffer.DataBufferLimitException("over 262144")));
    assertThat(response.getStatusCode().value()).isEqualTo(413);
    assertThat(response.getBody().code()).isEqualTo("PAYLOAD_TOO_LARGE");
  }

  @Test
  void whatNoRouteHandledIsAnsweredInJsonBeforeSpringBootsErrorPage() {
    var exchange =
        org.springframework.mock.web.server.MockServerWebExchange.from(
            org.springframework.mock.http.server.reactive.MockServerHttpRequest.get("/anything")
                .header("Accept", "text/html"));
    handler
        .handle(
            exchange,
            new org.springframework.web.server.ResponseStatusException(
                org.springframework.http.HttpStatus.NOT_FOUND, "No static resource /work/x"))
        .block();
    var response = exchange.getResponse();
    assertThat(response.getStatusCode().value()).isEqualTo(404);
    assertThat(response.getHeaders().getContentType().toString()).isEqualTo("application/json");
    assertThat(response.getBodyAsString().block())
        .isEqualTo(
            "{\"code\":\"NOT_FOUND\",\"message\":\""
                + ApiErrorHandler.messageOf(org.springframework.http.HttpStatus.NOT_FOUND)
                + "\"}");
    assertThat(handler.getOrder()).isLessThan(-1); // Spring Boot's own handler is at -1
  }
}
