package io.tempera.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.security.ApiKeyStore;
import io.tempera.security.Caller;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The server-side history on the embedded system (the in-process server, which answers no
 * visibility queries: its lists filtered by the API): listing with filters, cursor paging and
 * project scoping; the gallery; deleting a generation's outputs; the canvas socket's {@code
 * list_generations}. Each test works in projects of its own.
 */
@SpringBootTest(
    classes = EmbeddedApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {"spring.config.name=tempera-embedded", "tempera.embedded.comfyui-port=0"})
class GenerationHistoryEndToEndTest {

  static final Path ROOT =
      EmbeddedTestRoot.create(
          "tempera-history", EmbeddedTestRoot.activitiesTemplate("slow-invert"));
  static final ObjectMapper JSON = new ObjectMapper();

  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @LocalServerPort int port;
  @Autowired ApiKeyStore keys;

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) {
    EmbeddedTestRoot.register(registry, ROOT);
  }

  @Test
  void listsNewestFirstFilteredPagedAndScopedToTheProject() throws Exception {
    String alpha = key("h-alpha");
    String beta = key("h-beta");
    String operator = EmbeddedTestRoot.key(ROOT);
    String image = upload("h-alpha", alpha);
    String g1 = finished(alpha, "h-alpha", "a1", "invert", image, Map.of());
    String g2 = finished(alpha, "h-alpha", "a2", "invert", image, Map.of());
    String g3 = finished(alpha, "h-alpha", "a1", "invert", image, Map.of());
    String b1 = finished(beta, "h-beta", "b1", "invert", upload("h-beta", beta), Map.of());

    // a project key sees its own project, newest first, without naming it
    JsonNode all = ok("/api/generations", alpha);
    assertThat(ids(all)).containsExactly(g3, g2, g1);
    JsonNode item = all.get("items").get(0);
    assertThat(item.get("status").asText()).isEqualTo("SUCCEEDED");
    assertThat(item.get("functionId").asText()).isEqualTo("invert");
    assertThat(item.get("nodeId").asText()).isEqualTo("a1");
    assertThat(item.get("projectId").asText()).isEqualTo("h-alpha");
    assertThat(Instant.parse(item.get("startedAt").asText())).isBefore(Instant.now());
    assertThat(Instant.parse(item.get("endedAt").asText()))
        .isAfterOrEqualTo(Instant.parse(item.get("startedAt").asText()));
    HttpResponse<byte[]> output = download(item.get("outputs").get(0).get("url").asText());
    assertThat(output.statusCode()).isEqualTo(200);
    assertThat(output.headers().firstValue("content-type")).hasValue("image/png");

    // filters
    assertThat(ids(ok("/api/generations?node=a1", alpha))).containsExactly(g3, g1);
    assertThat(ids(ok("/api/generations?function=invert&status=succeeded", alpha)))
        .containsExactly(g3, g2, g1);
    assertThat(ids(ok("/api/generations?status=FAILED", alpha))).isEmpty();
    assertThat(ids(ok("/api/generations?status=running", alpha))).isEmpty();
    assertThat(ids(ok("/api/generations?function=slow-invert", alpha))).isEmpty();
    assertThat(ids(ok("/api/generations?since=2000-01-01", alpha))).containsExactly(g3, g2, g1);
    assertThat(ids(ok("/api/generations?since=" + Instant.now().plusSeconds(3600), alpha)))
        .isEmpty();

    // pages of one, each cursor leading to the next, the last without one
    List<String> paged = new ArrayList<>();
    String cursor = null;
    do {
      JsonNode page =
          ok("/api/generations?limit=1" + (cursor == null ? "" : "&cursor=" + cursor), alpha);
      assertThat(page.get("items")).hasSize(1);
      paged.addAll(ids(page));
      cursor = page.path("nextCursor").isTextual() ? page.get("nextCursor").asText() : null;
    } while (cursor != null && paged.size() < 10);
    assertThat(paged).containsExactly(g3, g2, g1);

    // bad queries: clear 400s, each with its code
    String first = ok("/api/generations?limit=1", alpha).get("nextCursor").asText();
    refused("/api/generations?limit=1&node=a1&cursor=" + first, alpha, 400, "INVALID_CURSOR");
    refused("/api/generations?cursor=not-a-cursor", alpha, 400, "INVALID_CURSOR");
    refused("/api/generations?cursor=" + encode("1.abc.p.1"), alpha, 400, "INVALID_CURSOR");
    refused("/api/generations?status=exploded", alpha, 400, "INVALID_STATUS");
    refused("/api/generations?limit=0", alpha, 400, "INVALID_LIMIT");
    refused("/api/generations?limit=101", alpha, 400, "INVALID_LIMIT");
    refused("/api/generations?limit=ten", alpha, 400, "INVALID_LIMIT");
    refused("/api/generations?since=yesterday", alpha, 400, "INVALID_SINCE");
    refused("/api/generations?node=" + encode("a 1'"), alpha, 400, "INVALID_FILTER");
    refused("/api/generations?project=" + encode("../x"), alpha, 400, "INVALID_FILTER");
    JsonNode bad = refused("/api/generations?status=exploded", alpha, 400, "INVALID_STATUS");
    assertThat(bad.get("message").asText()).contains("queued, running, succeeded");

    // another project is answered as one that does not exist
    HttpResponse<String> theirs = get("/api/generations?project=h-beta", alpha);
    HttpResponse<String> none = get("/api/generations?project=no-such-project", alpha);
    assertThat(theirs.statusCode()).isEqualTo(404);
    assertThat(theirs.body()).isEqualTo(none.body());
    assertThat(JSON.readTree(theirs.body()).get("code").asText()).isEqualTo("UNKNOWN_PROJECT");

    // an operator names any project, or sees them all
    assertThat(ids(ok("/api/generations?project=h-beta", operator))).containsExactly(b1);
    assertThat(ids(ok("/api/generations?limit=100", operator))).contains(g1, g2, g3, b1);
    assertThat(ids(ok("/api/generations?project=no-such-project", operator))).isEmpty();
  }

  @Test
  void theGalleryAndDeletingAGenerationsOutputs() throws Exception {
    String gamma = key("h-gamma");
    String beta = key("h-gamma-other");
    String image = upload("h-gamma", gamma);
    String g1 = finished(gamma, "h-gamma", "g", "invert", image, Map.of());
    String g2 = finished(gamma, "h-gamma", "g", "invert", image, Map.of());

    JsonNode gallery = ok("/api/projects/h-gamma/outputs", gamma);
    assertThat(galleryIds(gallery)).containsExactly(g2, g1);
    JsonNode first = gallery.get("items").get(0);
    assertThat(first.get("contentType").asText()).isEqualTo("image/png");
    assertThat(first.get("nodeId").asText()).isEqualTo("g");
    assertThat(first.get("functionId").asText()).isEqualTo("invert");
    assertThat(first.get("url").asText()).contains("?expires=").contains("&signature=");
    assertThat(download(first.get("url").asText()).statusCode()).isEqualTo(200);
    JsonNode onePage = ok("/api/projects/h-gamma/outputs?limit=1", gamma);
    assertThat(galleryIds(onePage)).containsExactly(g2);
    assertThat(
            galleryIds(
                ok(
                    "/api/projects/h-gamma/outputs?limit=1&cursor="
                        + onePage.get("nextCursor").asText(),
                    gamma)))
        .containsExactly(g1);
    refused("/api/projects/h-gamma/outputs?limit=500", gamma, 400, "INVALID_LIMIT");
    HttpResponse<String> theirs = get("/api/projects/h-gamma/outputs", beta);
    assertThat(theirs.statusCode()).isEqualTo(404);
    assertThat(theirs.body()).isEqualTo(get("/api/projects/nothing-here/outputs", beta).body());

    // a running generation's outputs cannot be deleted
    String running = start(gamma, "h-gamma", "g", "slow-invert", image, Map.of("steps", 400));
    HttpResponse<String> busy = send("DELETE", "/api/generations/" + running + "/outputs", gamma);
    assertThat(busy.statusCode()).as(busy.body()).isEqualTo(409);
    assertThat(JSON.readTree(busy.body()).get("code").asText()).isEqualTo("GENERATION_RUNNING");
    assertThat(send("POST", "/api/generations/" + running + "/cancel", gamma).statusCode())
        .isEqualTo(202);

    // another project's key: as if it did not exist
    HttpResponse<String> notTheirs = send("DELETE", "/api/generations/" + g1 + "/outputs", beta);
    assertThat(notTheirs.statusCode()).isEqualTo(404);
    assertThat(
            send("DELETE", "/api/generations/gen-0123456789-no-such/outputs", gamma).statusCode())
        .isEqualTo(404);

    JsonNode before = ok("/api/generations/" + g1, gamma);
    String url = before.get("outputs").get(0).get("url").asText();
    String name = before.get("outputs").get(0).get("name").asText();
    Path file = ROOT.resolve("outputs/h-gamma/outputs/renders/g").resolve(name);
    assertThat(file).exists();
    HttpResponse<String> deleted = send("DELETE", "/api/generations/" + g1 + "/outputs", gamma);
    assertThat(deleted.statusCode()).as(deleted.body()).isEqualTo(200);
    assertThat(JSON.readTree(deleted.body()).get("deleted").get(0).asText()).isEqualTo(name);
    assertThat(file).doesNotExist();
    assertThat(download(url).statusCode()).isEqualTo(404);
    assertThat(ok("/api/generations/" + g1, gamma).get("outputs")).isEmpty();
    assertThat(galleryIds(ok("/api/projects/h-gamma/outputs", gamma))).containsExactly(g2);
    // still in the history, without outputs
    JsonNode listed = ok("/api/generations?node=g&status=succeeded", gamma);
    assertThat(ids(listed)).containsExactly(g2, g1);
    assertThat(listed.get("items").get(1).get("outputs")).isEmpty();
    // deleting again deletes nothing
    HttpResponse<String> again = send("DELETE", "/api/generations/" + g1 + "/outputs", gamma);
    assertThat(again.statusCode()).isEqualTo(200);
    assertThat(JSON.readTree(again.body()).get("deleted")).isEmpty();
    assertThat(Files.exists(ROOT.resolve("outputs/h-gamma/history").resolve(g1 + ".json")))
        .isTrue();
  }

  @Test
  void theCanvasListsANodesGenerationsAndFollowsTheRunningOnes() throws Exception {
    String delta = key("h-delta");
    String image = upload("h-delta", delta);
    String done = finished(delta, "h-delta", "d1", "invert", image, Map.of());
    finished(delta, "h-delta", "d2", "invert", image, Map.of());
    String running = start(delta, "h-delta", "d1", "slow-invert", image, Map.of("steps", 400));

    ProjectIsolationEndToEndTest.Socket socket =
        ProjectIsolationEndToEndTest.Socket.open(http, uri("/ws"), null);
    socket.send(Map.of("type", "authenticate", "key", delta));
    assertThat(socket.next().get("type").asText()).isEqualTo("authenticated");

    socket.send(Map.of("type", "list_generations", "nodeId", "d1", "subscribe", true));
    JsonNode listed = socket.next();
    assertThat(listed.get("type").asText()).as(listed.toString()).isEqualTo("generations");
    assertThat(listed.get("nodeId").asText()).isEqualTo("d1");
    List<String> ids = new ArrayList<>();
    listed.get("items").forEach(i -> ids.add(i.get("id").asText()));
    assertThat(ids).containsExactly(running, done);
    assertThat(listed.get("items").get(1).get("outputs").get(0).get("url").asText())
        .contains("signature=");
    // subscribed: the running one's state comes, then its end once it is cancelled
    JsonNode followed = socket.next();
    assertThat(followed.get("taskId").asText()).as(followed.toString()).isEqualTo(running);
    assertThat(send("POST", "/api/generations/" + running + "/cancel", delta).statusCode())
        .isEqualTo(202);
    JsonNode end = followed;
    while (!end.get("type").asText().equals("task_failed")) {
      end = socket.next();
      assertThat(end.path("taskId").asText()).as(end.toString()).isEqualTo(running);
    }

    socket.send(Map.of("type", "list_generations"));
    JsonNode refused = socket.next();
    assertThat(refused.get("type").asText()).isEqualTo("error");
    assertThat(refused.get("code").asText()).isEqualTo("INVALID_MESSAGE");
    socket.send(Map.of("type", "list_generations", "nodeId", "d1", "projectId", "h-other"));
    JsonNode other = socket.next();
    assertThat(other.get("code").asText()).as(other.toString()).isEqualTo("UNKNOWN_PROJECT");
    socket.send(Map.of("type", "list_generations", "nodeId", "d1", "cursor", "bogus"));
    assertThat(socket.next().get("code").asText()).isEqualTo("INVALID_CURSOR");
    socket.abort();
  }

  // --- helpers --------------------------------------------------------------------------------

  private String key(String project) {
    return keys.create(Caller.Role.PROJECT, project, "history test").secret();
  }

  private String upload(String project, String key) throws Exception {
    java.io.ByteArrayOutputStream png = new java.io.ByteArrayOutputStream();
    javax.imageio.ImageIO.write(io.tempera.testkit.fixtures.TestImages.sample(), "png", png);
    HttpRequest request =
        EmbeddedTestRoot.multipart(
            ROOT,
            uri("/api/projects/" + project + "/uploads"),
            "sample.png",
            "image/png",
            png.toByteArray());
    HttpResponse<String> answer =
        http.send(
            HttpRequest.newBuilder(
                    request, (name, value) -> !name.equalsIgnoreCase("Authorization"))
                .header("Authorization", "Bearer " + key)
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(answer.statusCode()).as(answer.body()).isEqualTo(201);
    return JSON.readTree(answer.body()).get("path").asText();
  }

  private String start(
      String key, String project, String node, String function, String image, Map<String, ?> more)
      throws Exception {
    Map<String, Object> parameters = new HashMap<>(more);
    parameters.put("image", image);
    HttpResponse<String> started =
        http.send(
            HttpRequest.newBuilder(uri("/api/generations"))
                .header("Authorization", "Bearer " + key)
                .header("Content-Type", "application/json")
                .POST(
                    HttpRequest.BodyPublishers.ofString(
                        JSON.writeValueAsString(
                            Map.of(
                                "functionId",
                                function,
                                "projectId",
                                project,
                                "nodeId",
                                node,
                                "parameters",
                                parameters))))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
    return JSON.readTree(started.body()).get("id").asText();
  }

  /** Starts a generation and waits for it to succeed; its id. */
  private String finished(
      String key, String project, String node, String function, String image, Map<String, ?> more)
      throws Exception {
    String id = start(key, project, node, function, image, more);
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> {
          HttpResponse<String> state = get("/api/generations/" + id, key);
          return state.statusCode() == 200
              && JSON.readTree(state.body()).get("status").asText().equals("SUCCEEDED");
        });
    return id;
  }

  private HttpResponse<String> get(String path, String key) throws Exception {
    return send("GET", path, key);
  }

  private HttpResponse<String> send(String method, String path, String key) throws Exception {
    return http.send(
        HttpRequest.newBuilder(uri(path))
            .method(method, HttpRequest.BodyPublishers.noBody())
            .header("Authorization", "Bearer " + key)
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private JsonNode ok(String path, String key) throws Exception {
    HttpResponse<String> answer = get(path, key);
    assertThat(answer.statusCode()).as(path + ": " + answer.body()).isEqualTo(200);
    return JSON.readTree(answer.body());
  }

  private JsonNode refused(String path, String key, int status, String code) throws Exception {
    HttpResponse<String> answer = get(path, key);
    assertThat(answer.statusCode()).as(path + ": " + answer.body()).isEqualTo(status);
    JsonNode body = JSON.readTree(answer.body());
    assertThat(body.get("code").asText()).as(path).isEqualTo(code);
    assertThat(answer.body()).as(path).doesNotContain("Exception").doesNotContain("io.tempera");
    return body;
  }

  private HttpResponse<byte[]> download(String url) throws Exception {
    return http.send(
        HttpRequest.newBuilder(uri(url)).build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  private static List<String> ids(JsonNode page) {
    List<String> ids = new ArrayList<>();
    page.get("items").forEach(item -> ids.add(item.get("id").asText()));
    return ids;
  }

  private static List<String> galleryIds(JsonNode page) {
    List<String> ids = new ArrayList<>();
    page.get("items").forEach(item -> ids.add(item.get("generationId").asText()));
    return ids;
  }

  private static String encode(String text) {
    return URLEncoder.encode(
        text.contains(".") && text.startsWith("1.")
            ? java.util.Base64.getUrlEncoder().encodeToString(text.getBytes(StandardCharsets.UTF_8))
            : text,
        StandardCharsets.UTF_8);
  }

  private URI uri(String pathOrUrl) {
    return pathOrUrl.startsWith("http")
        ? URI.create(pathOrUrl)
        : URI.create("http://127.0.0.1:" + port + pathOrUrl);
  }
}
