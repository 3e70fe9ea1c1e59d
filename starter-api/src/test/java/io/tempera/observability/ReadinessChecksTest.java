package io.tempera.observability;

import static org.assertj.core.api.Assertions.assertThat;

import io.temporal.serviceclient.WorkflowServiceStubs;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import io.temporal.testserver.TestServer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.springframework.boot.health.contributor.Status;

/** The readiness checks turn DOWN while what they check does not answer, and UP again after. */
class ReadinessChecksTest {

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  @Test
  void temporalIsDownWhileTheServerIsGoneAndUpOnceItIsBack() throws Exception {
    int port = freePort();
    WorkflowServiceStubs stubs =
        WorkflowServiceStubs.newServiceStubs(
            WorkflowServiceStubsOptions.newBuilder().setTarget("127.0.0.1:" + port).build());
    TemporalHealth health = new TemporalHealth(() -> stubs, Duration.ofSeconds(2));
    try {
      assertThat(health.health().getStatus()).isEqualTo(Status.DOWN);
      assertThat(health.health().getDetails().get("reason").toString())
          .startsWith("the Temporal server does not answer");

      TestServer.PortBoundTestServer server = TestServer.createPortBoundServer(port);
      try {
        // the client's channel connects again on its own (its reconnect backoff is reset often)
        org.awaitility.Awaitility.await()
            .atMost(Duration.ofSeconds(30))
            .until(() -> health.health().getStatus().equals(Status.UP));
      } finally {
        server.close();
      }
      assertThat(health.health().getStatus()).isEqualTo(Status.DOWN);

      TestServer.PortBoundTestServer again = TestServer.createPortBoundServer(port);
      try {
        org.awaitility.Awaitility.await()
            .atMost(Duration.ofSeconds(30))
            .until(() -> health.health().getStatus().equals(Status.UP));
      } finally {
        again.close();
      }
    } finally {
      stubs.shutdownNow();
    }
  }

  @Test
  void anInProcessProgressBusIsAlwaysUp() {
    try (ProgressBusHealth health = new ProgressBusHealth("", Duration.ofSeconds(1))) {
      assertThat(health.health().getStatus()).isEqualTo(Status.UP);
      assertThat(health.health().getDetails()).containsEntry("bus", "in-process");
    }
  }

  @Test
  void redisIsDownWhileItDoesNotAnswerAndUpOnceItDoes() throws Exception {
    int port = freePort();
    try (ProgressBusHealth health =
        new ProgressBusHealth("redis://127.0.0.1:" + port, Duration.ofSeconds(2))) {
      assertThat(health.health().getStatus()).isEqualTo(Status.DOWN);

      try (FakeRedis redis = new FakeRedis(port)) {
        assertThat(health.health().getStatus()).isEqualTo(Status.UP);
        assertThat(health.health().getDetails()).containsEntry("bus", "redis");
      }
      assertThat(health.health().getStatus()).isEqualTo(Status.DOWN);

      try (FakeRedis redis = new FakeRedis(port)) {
        assertThat(health.health().getStatus()).isEqualTo(Status.UP);
      }
    }
  }

  /**
   * Just enough of Redis for a client's handshake and PING: HELLO is refused (the client falls back
   * to RESP2), everything else answered +OK, PING +PONG.
   */
  static final class FakeRedis implements AutoCloseable {
    private final ServerSocket server;
    private final Thread acceptor;
    private final java.util.Set<Socket> clients =
        java.util.concurrent.ConcurrentHashMap.newKeySet();

    FakeRedis(int port) throws IOException {
      server = new ServerSocket(port);
      acceptor = Thread.ofVirtual().start(this::accept);
    }

    private void accept() {
      while (!server.isClosed()) {
        try {
          Socket socket = server.accept();
          clients.add(socket);
          Thread.ofVirtual().start(() -> serve(socket));
        } catch (IOException closed) {
          return;
        }
      }
    }

    private void serve(Socket socket) {
      try (socket;
          BufferedReader in =
              new BufferedReader(
                  new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8))) {
        OutputStream out = socket.getOutputStream();
        String line;
        while ((line = in.readLine()) != null) {
          if (!line.startsWith("*")) {
            continue;
          }
          int parts = Integer.parseInt(line.substring(1));
          String command = null;
          for (int i = 0; i < parts; i++) {
            in.readLine(); // $length
            String part = in.readLine();
            if (i == 0) {
              command = part.toUpperCase(java.util.Locale.ROOT);
            }
          }
          String reply =
              switch (command) {
                case "HELLO" -> "-ERR unknown command 'HELLO'\r\n";
                case "PING" -> "+PONG\r\n";
                default -> "+OK\r\n";
              };
          out.write(reply.getBytes(StandardCharsets.UTF_8));
          out.flush();
        }
      } catch (IOException | RuntimeException gone) {
        // the client left, or the server closed
      }
    }

    @Override
    public void close() throws IOException {
      server.close();
      acceptor.interrupt();
      for (Socket client : clients) {
        client.close(); // as a stopped Redis: its connections close too
      }
    }
  }
}
