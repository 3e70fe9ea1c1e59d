package io.tempera.worker;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Import;

/**
 * A worker host's port: Prometheus scrapes {@code /actuator/prometheus} without a key (no generated
 * password), the probes read health, and nothing else is served.
 */
@SpringBootTest(
    classes = WorkerActuatorSecurityTest.App.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "spring.config.name=none",
      "management.endpoints.web.exposure.include=health,info,metrics,prometheus",
      "spring.autoconfigure.exclude="
          + "io.temporal.spring.boot.autoconfigure.ServiceStubsAutoConfiguration,"
          + "io.temporal.spring.boot.autoconfigure.RootNamespaceAutoConfiguration,"
          + "io.temporal.spring.boot.autoconfigure.NonRootNamespaceAutoConfiguration,"
          + "io.temporal.spring.boot.autoconfigure.MetricsScopeAutoConfiguration,"
          + "io.temporal.spring.boot.autoconfigure.OpenTracingAutoConfiguration,"
          + "io.temporal.spring.boot.autoconfigure.TestServerAutoConfiguration"
    })
class WorkerActuatorSecurityTest {

  @SpringBootConfiguration
  @EnableAutoConfiguration
  @Import(WorkerActuatorSecurity.class)
  static class App {}

  @LocalServerPort int port;

  private final HttpClient http = HttpClient.newHttpClient();

  private HttpResponse<String> get(String path) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void prometheusAndHealthAnswerWithoutAKeyAndNothingElseIsServed() throws Exception {
    HttpResponse<String> metrics = get("/actuator/prometheus");
    assertThat(metrics.statusCode()).isEqualTo(200);
    assertThat(metrics.body()).contains("jvm_memory_used_bytes");
    assertThat(get("/actuator/health").statusCode()).isEqualTo(200);
    assertThat(get("/api/generations").statusCode()).isIn(401, 403);
    assertThat(get("/").statusCode()).isIn(401, 403);
  }
}
