package io.tempera.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.security.ApiKeyStore;
import io.tempera.security.Caller;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * Resource limits on the following connections: a project key holds at most so many SSE streams and
 * canvas sockets; a socket sending too fast is refused message by message; a client that sends and
 * never reads is disconnected before its replies pile up; a slow request is cut off. The server
 * serves normal traffic right after each.
 */
@SpringBootTest(
    classes = EmbeddedApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "spring.config.name=tempera-embedded",
      "tempera.embedded.comfyui-port=0",
      "tempera.limits.max-connections-per-key=3",
      "tempera.limits.read-timeout=2s"
    })
class ConnectionLimitsEndToEndTest {

  static final Path ROOT =
      EmbeddedTestRoot.create("tempera-limits", EmbeddedTestRoot.activitiesTemplate("slow-invert"));
  static final ObjectMapper JSON = new ObjectMapper();
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @LocalServerPort int port;
  @Autowired ApiKeyStore keys;

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) {
    EmbeddedTestRoot.register(registry, ROOT);
  }

  @Test
  void aProjectKeyHoldsAtMostItsFollowingConnections() throws Exception {
    String key = keys.create(Caller.Role.PROJECT, "limits", "limits test").secret();
    String image =
        EmbeddedTestRoot.uploadSample(ROOT, http, uri("/api/projects/limits/uploads"), "image/png");
    HttpResponse<String> started =
        http.send(
            EmbeddedTestRoot.request(ROOT, uri("/api/generations"))
                .header("Content-Type", "application/json")
                .POST(
                    HttpRequest.BodyPublishers.ofString(
                        JSON.writeValueAsString(
                            Map.of(
                                "functionId", "slow-invert",
                                "projectId", "limits",
                                "nodeId", "n",
                                "parameters", Map.of("image", image, "steps", 1000)))))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
    String id = JSON.readTree(started.body()).get("id").asText();

    List<HttpResponse<InputStream>> streams = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      streams.add(follow(id, key));
      assertThat(streams.get(i).statusCode()).isEqualTo(200);
    }
    HttpResponse<InputStream> fourth = follow(id, key);
    assertThat(fourth.statusCode()).isEqualTo(429);
    assertThat(new String(fourth.body().readAllBytes(), StandardCharsets.UTF_8))
        .contains("TOO_MANY_CONNECTIONS");
    // a canvas socket counts too
    ProjectIsolationEndToEndTest.Socket socket =
        ProjectIsolationEndToEndTest.Socket.open(http, uri("/ws"), null);
    socket.send(Map.of("type", "authenticate", "key", key));
    assertThat(socket.next().get("code").asText()).isEqualTo("TOO_MANY_CONNECTIONS");
    assertThat(socket.closed().get(10, TimeUnit.SECONDS)).isEqualTo(1008);
    // the operator's key is not counted
    assertThat(follow(id, EmbeddedTestRoot.key(ROOT)).statusCode()).isEqualTo(200);

    // one closed: one more may open
    streams.get(0).body().close();
    Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> {
          HttpResponse<InputStream> again = follow(id, key);
          again.body().close();
          return again.statusCode() == 200;
        });
    for (HttpResponse<InputStream> s : streams) {
      s.body().close();
    }
    http.send(
        EmbeddedTestRoot.request(ROOT, uri("/api/generations/" + id + "/cancel"))
            .POST(HttpRequest.BodyPublishers.noBody())
            .build(),
        HttpResponse.BodyHandlers.discarding());
  }

  @Test
  void aSocketSendingTooFastIsRefusedMessageByMessage() throws Exception {
    ProjectIsolationEndToEndTest.Socket socket =
        ProjectIsolationEndToEndTest.Socket.open(http, uri("/ws"), null);
    socket.send(Map.of("type", "authenticate", "key", EmbeddedTestRoot.key(ROOT)));
    assertThat(socket.next().get("type").asText()).isEqualTo("authenticated");
    for (int i = 0; i < 400; i++) {
      socket.send(Map.of("type", "ping"));
    }
    int pongs = 0;
    int limited = 0;
    for (int i = 0; i < 400; i++) {
      JsonNode reply = socket.next();
      if (reply.get("type").asText().equals("pong")) {
        pongs++;
      } else {
        assertThat(reply.get("code").asText()).isEqualTo("RATE_LIMITED");
        limited++;
      }
    }
    // 50 a second, bursts of 100 (the defaults)
    assertThat(limited).as("most of a burst of 400 is refused").isGreaterThan(200);
    assertThat(pongs).as("the burst allowance is served").isGreaterThanOrEqualTo(100);
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(500))
        .until(() -> {
          socket.send(Map.of("type", "ping"));
          return socket.next().get("type").asText().equals("pong");
        });
    socket.abort();
  }

  @Test
  void aClientThatSendsAndNeverReadsIsDisconnected() throws Exception {
    try (Socket raw = new Socket()) {
      raw.setReceiveBufferSize(4096);
      raw.connect(new java.net.InetSocketAddress("127.0.0.1", port), 5000);
      OutputStream out = raw.getOutputStream();
      InputStream in = raw.getInputStream();
      out.write(
          ("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:"
                  + port
                  + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      assertThat(readHead(in)).startsWith("HTTP/1.1 101");
      out.write(
          frame("{\"type\":\"authenticate\",\"key\":\"" + EmbeddedTestRoot.key(ROOT) + "\"}"));
      // pings, never reading a reply: the replies (pongs, refusals) would pile up on the server
      byte[] ping = frame("{\"type\":\"ping\"}");
      Thread writer =
          Thread.ofVirtual()
              .start(() -> {
                try {
                  for (int i = 0; i < 200_000; i++) {
                    out.write(ping);
                  }
                } catch (java.io.IOException closed) {
                  // the server hung up: what this test waits for
                }
              });
      writer.join(Duration.ofSeconds(120));
      // now read: the server closed the socket, so the stream ends
      raw.setSoTimeout((int) TimeUnit.SECONDS.toMillis(60));
      byte[] buffer = new byte[65536];
      long read = 0;
      try {
        for (int n; (n = in.read(buffer)) >= 0; ) {
          read += n;
        }
      } catch (java.net.SocketException reset) {
        // reset after the close: ended too
      }
      assertThat(read).as("it had replied before closing").isPositive();
    }
    // and the server serves everyone else
    ProjectIsolationEndToEndTest.Socket socket =
        ProjectIsolationEndToEndTest.Socket.open(http, uri("/ws"), null);
    socket.send(Map.of("type", "authenticate", "key", EmbeddedTestRoot.key(ROOT)));
    assertThat(socket.next().get("type").asText()).isEqualTo("authenticated");
    socket.send(Map.of("type", "ping"));
    assertThat(socket.next().get("type").asText()).isEqualTo("pong");
    socket.abort();
  }

  @Test
  void aRequestThatStopsSendingIsCutOff() throws Exception {
    try (Socket raw = new Socket("127.0.0.1", port)) {
      raw.setSoTimeout((int) TimeUnit.SECONDS.toMillis(30));
      raw.getOutputStream()
          .write(
              ("POST /api/generations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                      + EmbeddedTestRoot.key(ROOT)
                      + "\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"funct")
                  .getBytes(StandardCharsets.US_ASCII));
      // ... and nothing more: the read timeout (2 s here) answers and closes
      String answer = new String(raw.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
      assertThat(answer).startsWith("HTTP/1.1 408");
    }
  }

  @Test
  void headersTrickledAByteAtATimeAreCutOff() throws Exception {
    try (Socket raw = new Socket("127.0.0.1", port)) {
      raw.setSoTimeout((int) TimeUnit.SECONDS.toMillis(30));
      OutputStream out = raw.getOutputStream();
      out.write(
          "GET /api/functions HTTP/1.1\r\nHost: x\r\nX-Slow: ".getBytes(StandardCharsets.US_ASCII));
      boolean closed = false;
      // a byte every 200 ms for up to 40 s: each pause is well under the read timeout (2 s
      // here), and the head never ends; the server must hang up during the trickle (a write then
      // fails)
      for (int i = 0; i < 200 && !closed; i++) {
        try {
          out.write('a');
          out.flush();
          Thread.sleep(200);
        } catch (java.io.IOException reset) {
          closed = true;
        }
      }
      assertThat(closed).as("the server hung up on the trickled head").isTrue();
    }
  }

  // ------------------------------------------------------------------ helpers

  private HttpResponse<InputStream> follow(String id, String key) throws Exception {
    return http.send(
        HttpRequest.newBuilder(uri("/api/generations/" + id + "/events"))
            .header("Authorization", "Bearer " + key)
            .build(),
        HttpResponse.BodyHandlers.ofInputStream());
  }

  private static String readHead(InputStream in) throws Exception {
    StringBuilder head = new StringBuilder();
    while (!head.toString().endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) {
        break;
      }
      head.append((char) b);
    }
    return head.toString();
  }

  /** A masked client text frame (payloads under 126 bytes). */
  private static byte[] frame(String text) {
    byte[] payload = text.getBytes(StandardCharsets.UTF_8);
    byte[] mask = {1, 2, 3, 4};
    byte[] frame = new byte[2 + 4 + payload.length];
    frame[0] = (byte) 0x81;
    frame[1] = (byte) (0x80 | payload.length);
    System.arraycopy(mask, 0, frame, 2, 4);
    for (int i = 0; i < payload.length; i++) {
      frame[6 + i] = (byte) (payload[i] ^ mask[i % 4]);
    }
    return frame;
  }

  private URI uri(String path) {
    return URI.create("http://127.0.0.1:" + port + path);
  }
}
