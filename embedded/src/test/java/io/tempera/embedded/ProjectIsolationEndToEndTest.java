package io.tempera.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.api.CanvasWebSocketHandler;
import io.tempera.security.ApiKeyStore;
import io.tempera.security.Caller;
import io.tempera.security.KeysCommand;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.web.reactive.result.method.annotation.RequestMappingHandlerMapping;

/**
 * Keys and projects on the whole embedded system: every route and every canvas message needs a key;
 * a key of one project finds nothing of another (its generations, outputs, previews, events,
 * uploads), answered exactly as for what does not exist; signed output URLs grant one file; keys
 * made and revoked by an operator (admin route and command line) count at once; pages of other
 * origins are refused unless allowed.
 */
@SpringBootTest(
    classes = EmbeddedApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "spring.config.name=tempera-embedded",
      "tempera.embedded.comfyui-port=0",
      "tempera.security.allowed-origins=https://canvas.example"
    })
class ProjectIsolationEndToEndTest {

  static final Path ROOT =
      EmbeddedTestRoot.create(
          "tempera-isolation", EmbeddedTestRoot.activitiesTemplate("slow-invert"));
  static final ObjectMapper JSON = new ObjectMapper();

  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @LocalServerPort int port;
  @Autowired ApiKeyStore keys;

  @Autowired
  @Qualifier("requestMappingHandlerMapping")
  RequestMappingHandlerMapping routes;

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) {
    EmbeddedTestRoot.register(registry, ROOT);
  }

  /** Every route the application maps is reachable only with a key (401 without one). */
  @Test
  void everyRouteAndEveryCanvasMessageNeedsAKey() throws Exception {
    Set<String> checked = new TreeSet<>();
    Set<String> publicDocuments = new TreeSet<>();
    routes
        .getHandlerMethods()
        .forEach((info, method) -> {
          Set<org.springframework.web.bind.annotation.RequestMethod> methods =
              info.getMethodsCondition().getMethods();
          for (var pattern : info.getPatternsCondition().getPatterns()) {
            String path =
                pattern
                    .getPatternString()
                    .replace("{id}", "gen-0123456789-x")
                    .replace("{name}", "out")
                    .replace("{projectId}", "alpha");
            if (path.startsWith("/v3/api-docs")) {
              // the API's OpenAPI document: public by design (README), it holds no secrets and
              // every route it lists needs a key (CanvasWebSocketProtocolTest reads it keyless)
              publicDocuments.add(path);
              continue;
            }
            assertThat(path).as("every route is under /api/").startsWith("/api/");
            for (var m :
                methods.isEmpty()
                    ? Set.of(org.springframework.web.bind.annotation.RequestMethod.GET)
                    : methods) {
              try {
                HttpResponse<String> answer =
                    http.send(
                        HttpRequest.newBuilder(uri(path))
                            .method(
                                m.name(),
                                m.name().equals("GET") || m.name().equals("DELETE")
                                    ? HttpRequest.BodyPublishers.noBody()
                                    : HttpRequest.BodyPublishers.ofString("{}"))
                            .header("Content-Type", "application/json")
                            .build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(answer.statusCode())
                    .as(m + " " + path + ": " + answer.body())
                    .isEqualTo(401);
                assertThat(JSON.readTree(answer.body()).get("code").asText())
                    .isEqualTo("UNAUTHENTICATED");
                checked.add(m + " " + path);
              } catch (Exception e) {
                throw new AssertionError(m + " " + path, e);
              }
            }
          }
        });
    assertThat(publicDocuments).as("the only routes outside /api/").contains("/v3/api-docs");
    assertThat(checked)
        .as("the routes enumerated")
        .contains(
            "POST /api/generations",
            "GET /api/generations/gen-0123456789-x",
            "GET /api/generations/gen-0123456789-x/events",
            "POST /api/generations/gen-0123456789-x/cancel",
            "GET /api/generations/gen-0123456789-x/outputs/out",
            "GET /api/generations/gen-0123456789-x/preview",
            "POST /api/projects/alpha/uploads",
            "GET /api/projects/alpha/uploads/out",
            "GET /api/generations",
            "GET /api/projects/alpha/outputs",
            "DELETE /api/generations/gen-0123456789-x/outputs",
            "GET /api/functions",
            "GET /api/admin/keys");

    // the actuator: health is open, every other endpoint needs an operator
    String operator = EmbeddedTestRoot.key(ROOT);
    JsonNode links = JSON.readTree(send("GET", "/actuator", operator, null).body()).get("_links");
    assertThat(links).isNotNull();
    String project = key("alpha");
    List<String> endpoints = new ArrayList<>();
    links.fieldNames().forEachRemaining(endpoints::add);
    assertThat(endpoints).contains("health", "metrics", "prometheus");
    for (String name : endpoints) {
      String href = links.get(name).get("href").asText();
      if (href.contains("{")) {
        continue; // a template (metrics/{name}): its base is checked
      }
      String path = URI.create(href).getPath();
      int anonymous = send("GET", path, null, null).statusCode();
      int asProject = send("GET", path, project, null).statusCode();
      if (name.startsWith("health")) {
        assertThat(anonymous).as(path).isEqualTo(200);
      } else {
        assertThat(anonymous).as(path).isEqualTo(401);
        assertThat(asProject).as(path).isEqualTo(403);
      }
    }

    // every canvas message type, sent before authenticating, is refused and the socket closed
    for (String type : CanvasWebSocketHandler.FIELDS.keySet()) {
      if (type.equals("authenticate")) {
        continue;
      }
      Socket socket = Socket.open(http, uri("/ws"), null);
      socket.send(Map.of("type", type));
      JsonNode reply = socket.next();
      assertThat(reply.get("code").asText()).as(type).isEqualTo("UNAUTHENTICATED");
      assertThat(socket.closed().get(10, TimeUnit.SECONDS)).as(type).isEqualTo(1008);
    }
  }

  @Test
  void aKeyOfAnotherProjectFindsNothingOfThisOne() throws Exception {
    String alpha = key("alpha");
    String beta = key("beta");
    String image = upload("alpha", alpha);
    String requestId = "iso-" + UUID.randomUUID();
    HttpResponse<String> started = start(alpha, "alpha", "invert", image, requestId);
    assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
    String id = JSON.readTree(started.body()).get("id").asText();
    assertThat(id).isEqualTo(EmbeddedTestRoot.generationId("alpha", requestId));
    JsonNode done = awaitEnd(id, alpha);
    assertThat(done.get("status").asText()).isEqualTo("SUCCEEDED");
    String signedUrl = done.get("outputs").get(0).get("url").asText();
    String name = done.get("outputs").get(0).get("name").asText();
    assertThat(signedUrl).contains("?expires=").contains("&signature=");

    // beta sees what it would see of a generation that does not exist, byte for byte
    String missing = "gen-0123456789-" + UUID.randomUUID();
    for (String suffix : List.of("", "/outputs/" + name, "/preview")) {
      HttpResponse<String> theirs = send("GET", "/api/generations/" + id + suffix, beta, null);
      HttpResponse<String> none = send("GET", "/api/generations/" + missing + suffix, beta, null);
      assertThat(theirs.statusCode()).as(suffix).isEqualTo(404);
      assertThat(theirs.body()).as(suffix).isEqualTo(none.body());
    }
    assertThat(send("POST", "/api/generations/" + id + "/cancel", beta, "{}").statusCode())
        .isEqualTo(404);
    HttpResponse<String> events =
        http.send(
            HttpRequest.newBuilder(uri("/api/generations/" + id + "/events"))
                .header("Authorization", "Bearer " + beta)
                .header("Accept", "text/event-stream")
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(events.statusCode()).isEqualTo(404);
    assertThat(events.body()).doesNotContain("SUCCEEDED");

    // nor can beta start or upload in alpha, or use alpha's upload
    HttpResponse<String> inAlpha = start(beta, "alpha", "invert", image, null);
    assertThat(inAlpha.statusCode()).isEqualTo(404);
    assertThat(JSON.readTree(inAlpha.body()).get("code").asText()).isEqualTo("UNKNOWN_PROJECT");
    HttpResponse<String> upload =
        http.send(
            withKey(
                EmbeddedTestRoot.multipart(
                    ROOT, uri("/api/projects/alpha/uploads"), "x.png", "image/png", new byte[] {1}),
                beta),
            HttpResponse.BodyHandlers.ofString());
    assertThat(upload.statusCode()).isEqualTo(404);
    HttpResponse<String> borrowed = start(beta, "beta", "invert", image, null);
    assertThat(borrowed.statusCode()).isEqualTo(422);
    assertThat(borrowed.body()).contains("FILE_NOT_FOUND");

    // the canvas socket: beta can neither follow nor cancel alpha's generation
    Socket socket = Socket.open(http, uri("/ws"), null);
    socket.send(Map.of("type", "authenticate", "key", beta));
    JsonNode authenticated = socket.next();
    assertThat(authenticated.get("type").asText()).isEqualTo("authenticated");
    assertThat(authenticated.get("projectId").asText()).isEqualTo("beta");
    assertThat(authenticated.get("role").asText()).isEqualTo("project");
    socket.send(Map.of("type", "subscribe", "taskIds", List.of(id)));
    JsonNode refused = socket.next();
    assertThat(refused.get("type").asText()).isEqualTo("error");
    assertThat(refused.get("code").asText()).isEqualTo("NOT_FOUND");
    assertThat(refused.get("taskId").asText()).isEqualTo(id);
    socket.send(Map.of("type", "cancel_generation", "taskId", id));
    assertThat(socket.next().get("code").asText()).isEqualTo("NOT_FOUND");
    socket.abort();

    // the same requestId in beta is beta's own generation
    String betaImage = upload("beta", beta);
    HttpResponse<String> same = start(beta, "beta", "invert", betaImage, requestId);
    assertThat(same.statusCode()).as(same.body()).isEqualTo(202);
    String betaId = JSON.readTree(same.body()).get("id").asText();
    assertThat(betaId).isNotEqualTo(id).endsWith("-" + requestId);
    assertThat(awaitEnd(betaId, beta).get("status").asText()).isEqualTo("SUCCEEDED");

    // the signed URL grants that one file without a key, and nothing else
    HttpResponse<byte[]> png =
        http.send(
            HttpRequest.newBuilder(uri(signedUrl)).build(),
            HttpResponse.BodyHandlers.ofByteArray());
    assertThat(png.statusCode()).isEqualTo(200);
    assertThat(png.headers().firstValue("content-type")).hasValue("image/png");
    String query = signedUrl.substring(signedUrl.indexOf('?'));
    String expires = query.replaceAll(".*expires=(\\d+).*", "$1");
    String forged =
        signedUrl.replace("expires=" + expires, "expires=" + (Long.parseLong(expires) + 3600));
    String tampered =
        signedUrl.substring(0, signedUrl.length() - 2) + (signedUrl.endsWith("A") ? "BB" : "AA");
    for (String wrong :
        List.of(
            forged,
            tampered,
            "/api/generations/" + betaId + "/outputs/" + name + query,
            "/api/generations/" + id + "/preview" + query,
            "/api/generations/" + id + "/outputs/" + name)) {
      HttpResponse<String> answer = send("GET", wrong, null, null);
      assertThat(answer.statusCode()).as(wrong).isEqualTo(401);
      assertThat(JSON.readTree(answer.body()).get("code").asText()).isEqualTo("UNAUTHENTICATED");
    }
  }

  @Test
  void keysMadeAndRevokedByAnOperatorCountAtOnce() throws Exception {
    String operator = EmbeddedTestRoot.key(ROOT);
    HttpResponse<String> made =
        send("POST", "/api/admin/keys", operator, "{\"projectId\":\"gamma\",\"name\":\"canvas\"}");
    assertThat(made.statusCode()).as(made.body()).isEqualTo(201);
    JsonNode created = JSON.readTree(made.body());
    String gamma = created.get("key").asText();
    assertThat(gamma).startsWith("tpk_" + created.get("id").asText() + "_");
    assertThat(send("GET", "/api/functions", gamma, null).statusCode()).isEqualTo(200);

    HttpResponse<String> list = send("GET", "/api/admin/keys", operator, null);
    assertThat(list.body()).contains(created.get("id").asText()).doesNotContain(gamma);
    assertThat(list.body()).doesNotContain("sha256").doesNotContain(gamma.substring(17));
    assertThat(Files.readString(EmbeddedTestRoot.keysFile(ROOT)))
        .doesNotContain(gamma.substring(17));

    assertThat(
            send("DELETE", "/api/admin/keys/" + created.get("id").asText(), operator, null)
                .statusCode())
        .isEqualTo(204);
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(() ->
            assertThat(send("GET", "/api/functions", gamma, null).statusCode()).isEqualTo(401));

    // the command line works on the same file: its key counts on the running server
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int status =
        KeysCommand.run(
            new String[] {
              "keys",
              "create",
              "--project",
              "delta",
              "--keys-file",
              EmbeddedTestRoot.keysFile(ROOT).toString()
            },
            Map.of(),
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
    assertThat(status).isZero();
    String delta = out.toString(StandardCharsets.UTF_8).trim();
    assertThat(delta).matches("tpk_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}");
    assertThat(send("GET", "/api/functions", delta, null).statusCode()).isEqualTo(200);
    HttpResponse<String> deltaStart = start(delta, null, "invert", "uploads/none.png", null);
    assertThat(deltaStart.statusCode())
        .as("a project key's own project when none is named")
        .isEqualTo(422);
    assertThat(deltaStart.body()).contains("project delta");
  }

  @Test
  void pagesOfOtherOriginsAreRefusedUnlessAllowed() throws Exception {
    String key = key("alpha");
    HttpResponse<String> evil =
        http.send(
            withKey(HttpRequest.newBuilder(uri("/api/functions")), key)
                .header("Origin", "https://evil.example")
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(evil.statusCode()).isEqualTo(403);
    assertThat(JSON.readTree(evil.body()).get("code").asText()).isEqualTo("ORIGIN_NOT_ALLOWED");

    HttpResponse<String> own =
        http.send(
            withKey(HttpRequest.newBuilder(uri("/api/functions")), key)
                .header("Origin", "http://127.0.0.1:" + port)
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(own.statusCode()).as("the server's own page").isEqualTo(200);

    HttpResponse<String> preflight =
        http.send(
            HttpRequest.newBuilder(uri("/api/generations"))
                .method("OPTIONS", HttpRequest.BodyPublishers.noBody())
                .header("Origin", "https://canvas.example")
                .header("Access-Control-Request-Method", "POST")
                .header("Access-Control-Request-Headers", "authorization,content-type")
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(preflight.statusCode()).isEqualTo(200);
    assertThat(preflight.headers().firstValue("Access-Control-Allow-Origin"))
        .hasValue("https://canvas.example");

    Throwable refused =
        org.assertj.core.api.Assertions.catchThrowable(
            () -> Socket.open(http, uri("/ws"), "https://evil.example"));
    assertThat(refused).isNotNull();
    Socket allowed = Socket.open(http, uri("/ws"), "https://canvas.example");
    allowed.send(Map.of("type", "authenticate", "key", key));
    assertThat(allowed.next().get("type").asText()).isEqualTo("authenticated");
    allowed.abort();
  }

  // ------------------------------------------------------------------ helpers

  private String key(String project) {
    return keys.create(Caller.Role.PROJECT, project, "isolation test").secret();
  }

  private String upload(String project, String key) throws Exception {
    java.io.ByteArrayOutputStream png = new java.io.ByteArrayOutputStream();
    javax.imageio.ImageIO.write(io.tempera.testkit.fixtures.TestImages.sample(), "png", png);
    HttpResponse<String> answer =
        http.send(
            withKey(
                EmbeddedTestRoot.multipart(
                    ROOT,
                    uri("/api/projects/" + project + "/uploads"),
                    "s.png",
                    "image/png",
                    png.toByteArray()),
                key),
            HttpResponse.BodyHandlers.ofString());
    assertThat(answer.statusCode()).as(answer.body()).isEqualTo(201);
    return JSON.readTree(answer.body()).get("path").asText();
  }

  private HttpResponse<String> start(
      String key, String project, String function, String image, String requestId)
      throws Exception {
    Map<String, Object> body = new java.util.LinkedHashMap<>();
    body.put("functionId", function);
    if (project != null) body.put("projectId", project);
    body.put("nodeId", "n");
    if (requestId != null) body.put("requestId", requestId);
    body.put("parameters", Map.of("image", image));
    return send("POST", "/api/generations", key, JSON.writeValueAsString(body));
  }

  private JsonNode awaitEnd(String id, String key) {
    JsonNode[] last = {null};
    Awaitility.await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> {
          last[0] = JSON.readTree(send("GET", "/api/generations/" + id, key, null).body());
          return Set.of("SUCCEEDED", "FAILED", "CANCELLED")
              .contains(last[0].path("status").asText());
        });
    return last[0];
  }

  private HttpResponse<String> send(String method, String path, String key, String json)
      throws Exception {
    HttpRequest.Builder builder =
        HttpRequest.newBuilder(uri(path))
            .method(
                method,
                json == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(json));
    if (json != null) builder.header("Content-Type", "application/json");
    if (key != null) builder.header("Authorization", "Bearer " + key);
    return http.send(builder.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** {@code request} again with {@code key} instead of the operator's. */
  private static HttpRequest withKey(HttpRequest request, String key) {
    return HttpRequest.newBuilder(request, (name, value) -> !name.equalsIgnoreCase("Authorization"))
        .header("Authorization", "Bearer " + key)
        .build();
  }

  private static HttpRequest.Builder withKey(HttpRequest.Builder builder, String key) {
    return builder.header("Authorization", "Bearer " + key);
  }

  private URI uri(String path) {
    return URI.create("http://127.0.0.1:" + port + path);
  }

  /** A canvas WebSocket: its messages in a queue, its close code. */
  static final class Socket implements WebSocket.Listener {
    final BlockingQueue<JsonNode> received = new LinkedBlockingQueue<>();
    final java.util.concurrent.CompletableFuture<Integer> closed =
        new java.util.concurrent.CompletableFuture<>();
    final StringBuilder text = new StringBuilder();
    WebSocket socket;

    static Socket open(HttpClient http, URI uri, String origin) throws Exception {
      Socket listener = new Socket();
      URI ws = URI.create(uri.toString().replace("http://", "ws://"));
      WebSocket.Builder builder = http.newWebSocketBuilder();
      if (origin != null) builder.header("Origin", origin);
      try {
        listener.socket = builder.buildAsync(ws, listener).get(10, TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException e) {
        throw new CompletionException(e.getCause());
      }
      return listener;
    }

    void send(Object message) throws Exception {
      socket.sendText(JSON.writeValueAsString(message), true).get(10, TimeUnit.SECONDS);
    }

    JsonNode next() throws Exception {
      JsonNode message = received.poll(30, TimeUnit.SECONDS);
      assertThat(message).as("a message within 30 s").isNotNull();
      return message;
    }

    java.util.concurrent.CompletableFuture<Integer> closed() {
      return closed;
    }

    void abort() {
      socket.abort();
    }

    @Override
    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
      text.append(data);
      if (last) {
        try {
          received.add(JSON.readTree(text.toString()));
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
        text.setLength(0);
      }
      ws.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
      closed.complete(statusCode);
      return null;
    }

    @Override
    public void onError(WebSocket ws, Throwable error) {
      closed.completeExceptionally(error);
    }
  }
}
