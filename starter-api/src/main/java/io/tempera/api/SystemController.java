package io.tempera.api;

import io.swagger.v3.oas.annotations.media.Schema;
import java.util.Locale;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * What this system runs on, for a client to say so: which Temporal, and whether a running
 * generation survives a restart of it. Decided from the configuration: {@code
 * spring.temporal.test-server.enabled} (the in-process test server, the embedded default and {@code
 * ./tempera run}'s fallback), else {@code tempera.temporal-kind} ({@code dev-server}, which {@code
 * ./tempera run} sets for the Temporal CLI's dev server, or {@code cluster}, the default).
 */
@RestController
public class SystemController {

  /** The Temporal a system runs on. */
  public enum TemporalKind {
    /** The in-process test server: its state lives in the process and ends with it. */
    IN_PROCESS_TEST_SERVER,
    /** The Temporal CLI's dev server, with its state in a database file. */
    DEV_SERVER,
    /** A Temporal server or cluster at an address. */
    CLUSTER
  }

  /** What {@code GET /api/system} answers. */
  @Schema(name = "SystemInfo")
  public record SystemInfo(
      @Schema(
              description =
                  "The Temporal this system runs on: IN_PROCESS_TEST_SERVER (in the API's own"
                      + " process, for trying out), DEV_SERVER (the Temporal CLI's dev server) or"
                      + " CLUSTER (a Temporal server or cluster at an address)",
              requiredMode = Schema.RequiredMode.REQUIRED)
          TemporalKind temporal,
      @Schema(
              description =
                  "True when running generations survive a restart of the system; false on the"
                      + " in-process test server, where they are lost (finished ones stay"
                      + " readable from the output store)",
              requiredMode = Schema.RequiredMode.REQUIRED)
          boolean durable) {}

  private final SystemInfo info;

  public SystemController(
      @Value("${spring.temporal.test-server.enabled:false}") boolean testServer,
      @Value("${tempera.temporal-kind:cluster}") String kind) {
    this.info = describe(testServer, kind);
  }

  static SystemInfo describe(boolean testServer, String kind) {
    if (testServer) {
      return new SystemInfo(TemporalKind.IN_PROCESS_TEST_SERVER, false);
    }
    return switch (kind.trim().toLowerCase(Locale.ROOT)) {
      case "dev-server" -> new SystemInfo(TemporalKind.DEV_SERVER, true);
      case "cluster", "" -> new SystemInfo(TemporalKind.CLUSTER, true);
      default ->
          throw new IllegalStateException(
              "tempera.temporal-kind is '" + kind + "': set it to dev-server or cluster");
    };
  }

  /** Which Temporal this system runs on, and whether running generations survive a restart. */
  @GetMapping("/api/system")
  public SystemInfo system() {
    return info;
  }
}
