package io.tempera.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * The hostile-input corpus ({@code src/test/resources/hostile/requests.csv}, its format described
 * at its top) against the API on a real port: each case's exact status and code, the security
 * headers, a JSON body on every refusal, nothing that leaks the server's insides, and a normal
 * generation that still succeeds right after.
 */
@SpringBootTest(
    classes = io.tempera.embedded.EmbeddedApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {"spring.config.name=tempera-embedded", "tempera.embedded.comfyui-port=0"})
class HostileRequestsTest {

  /** The system's folder: the shipped functions, outputs, the testkit ComfyUI's data, the keys. */
  static final java.nio.file.Path ROOT = root();

  static java.nio.file.Path root() {
    try {
      java.nio.file.Path root = java.nio.file.Files.createTempDirectory("hostile-test-outputs");
      io.tempera.testkit.fixtures.TestFiles.copyShippedTemplates(root.resolve("templates"));
      return root;
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  @org.springframework.test.context.DynamicPropertySource
  static void properties(org.springframework.test.context.DynamicPropertyRegistry registry) {
    registry.add("tempera.output-root", () -> ROOT.resolve("outputs").toString());
    registry.add("tempera.templates-dir", () -> ROOT.resolve("templates").toString());
    registry.add("tempera.embedded.comfyui-data", () -> ROOT.resolve("comfyui").toString());
    registry.add("tempera.security.keys-file", () -> KEYS_FILE.toString());
  }

  static final String CORPUS = "/hostile/requests.csv";
  static final ObjectMapper JSON = new ObjectMapper();

  /** Texts no answer may carry: stack traces, class names, server paths. */
  static final List<String> LEAKS =
      List.of(
          "Exception",
          "at io.",
          "java.",
          "/work/",
          "/tmp/",
          "/home/",
          "/root/",
          "/usr/",
          "/etc/",
          ".java",
          "target/",
          "hostile-test-outputs");

  static final Pattern MACRO = Pattern.compile("<<(.*?)\\*(\\d+)>>");
  static final String OK =
      "\"functionId\":\"generate-pattern\",\"projectId\":\"hostile\",\"nodeId\":\"n\"";

  @LocalServerPort int port;

  record Case(
      int line,
      int status,
      String code,
      String contains,
      String method,
      String target,
      Map<String, String> headers,
      String body) {
    @Override
    public String toString() {
      String shown = method + " " + target + " " + (body == null ? "" : body);
      return "line " + line + ": " + (shown.length() > 90 ? shown.substring(0, 90) + "…" : shown);
    }
  }

  record Answer(int status, Map<String, String> headers, String body) {}

  static List<Case> corpus() throws IOException {
    List<Case> cases = new ArrayList<>();
    try (InputStream in = HostileRequestsTest.class.getResourceAsStream(CORPUS)) {
      String[] lines = new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n", -1);
      for (int i = 0; i < lines.length; i++) {
        String line = lines[i].stripTrailing();
        if (line.isBlank() || line.startsWith("#")) {
          continue;
        }
        String[] f = line.split(" \\| ", 7);
        if (f.length != 7) {
          throw new IllegalArgumentException(CORPUS + " line " + (i + 1) + ": 7 fields expected");
        }
        Map<String, String> headers = new LinkedHashMap<>();
        if (!f[5].equals("-")) {
          for (String header : f[5].split(" ;; ")) {
            int colon = header.indexOf(':');
            headers.put(
                header.substring(0, colon).trim(), expand(header.substring(colon + 1).trim()));
          }
        }
        cases.add(
            new Case(
                i + 1,
                Integer.parseInt(f[0].trim()),
                f[1].trim(),
                f[2].trim().equals("-") ? null : f[2].trim(),
                f[3].trim(),
                expand(f[4].trim()),
                headers,
                f[6].equals("-") ? null : expand(f[6])));
      }
    }
    return cases;
  }

  /** The keys file of this test's server. */
  static final java.nio.file.Path KEYS_FILE = ROOT.resolve("keys.json");

  private static final Map<String, String> KEYS = new java.util.concurrent.ConcurrentHashMap<>();

  /** A key made in the system's keys file, as an operator would: by project, or "#operator". */
  static String key(String project) {
    return KEYS.computeIfAbsent(
        project,
        p ->
            new io.tempera.security.ApiKeyStore(KEYS_FILE)
                .create(
                    p.equals("#operator")
                        ? io.tempera.security.Caller.Role.OPERATOR
                        : io.tempera.security.Caller.Role.PROJECT,
                    p.equals("#operator") ? null : p,
                    "hostile corpus")
                .secret());
  }

  /** {@code <<key:project>>}: a key of that project; {@code <<operator>>}, {@code <<revoked>>}. */
  static final Pattern KEY_MACRO = Pattern.compile("<<(key:([A-Za-z0-9._-]+)|operator|revoked)>>");

  static String keyFor(Matcher m) {
    if (m.group(1).equals("operator")) {
      return key("#operator");
    }
    if (m.group(1).equals("revoked")) {
      io.tempera.security.ApiKeyStore store = new io.tempera.security.ApiKeyStore(KEYS_FILE);
      String key = key("revoked-project");
      store.revoke(key.substring(4, 16));
      return key;
    }
    return key(m.group(2));
  }

  static String expand(String text) {
    Matcher keys = KEY_MACRO.matcher(text);
    StringBuilder withKeys = new StringBuilder();
    while (keys.find()) {
      keys.appendReplacement(withKeys, Matcher.quoteReplacement(keyFor(keys)));
    }
    keys.appendTail(withKeys);
    String withOk = withKeys.toString().replace("<<ok>>", OK);
    Matcher m = MACRO.matcher(withOk);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      m.appendReplacement(
          out, Matcher.quoteReplacement(m.group(1).repeat(Integer.parseInt(m.group(2)))));
    }
    m.appendTail(out);
    return out.toString();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("corpus")
  void eachHostileRequestGetsItsExactAnswer(Case c) throws Exception {
    if (c.method().equals("WS")) {
      String reply = webSocket(c.body(), c.headers().get("Authorization"));
      JsonNode message = JSON.readTree(reply);
      String got =
          message.path("type").asText().equals("error")
              ? message.path("code").asText()
              : message.path("type").asText();
      assertThat(got).as(reply).isEqualTo(c.code());
      assertNoLeak(reply);
      if (c.contains() != null) {
        assertThat(reply).contains(c.contains());
      }
    } else {
      Answer answer = send(c);
      assertThat(answer.status()).as(answer.body()).isEqualTo(c.status());
      assertThat(answer.headers())
          .as("security headers")
          .containsEntry("x-content-type-options", "nosniff")
          .containsEntry("x-frame-options", "DENY")
          .containsEntry("referrer-policy", "no-referrer");
      if (c.status() >= 400) {
        assertThat(answer.headers().get("content-type")).startsWith("application/json");
        assertThat(answer.body()).isNotBlank();
        JsonNode error = JSON.readTree(answer.body());
        assertThat(error.path("code").asText()).as(answer.body()).isEqualTo(c.code());
        assertThat(error.path("message").asText()).isNotBlank();
      }
      assertNoLeak(answer.body());
      if (c.contains() != null) {
        assertThat(answer.body()).contains(c.contains());
      }
    }
    aNormalGenerationStillSucceeds();
  }

  /**
   * The try-it page still loads under the security headers: the page and every script and style it
   * references are served with a type {@code nosniff} lets a browser use (the built page when
   * clients/web was built, else the fallback page).
   */
  @Test
  void theTryItPageAndItsAssetsLoadWithTheirTypes() throws IOException {
    Answer page = send(get("/"));
    assertThat(page.status()).isEqualTo(200);
    assertThat(page.headers().get("content-type")).startsWith("text/html");
    assertThat(page.headers()).containsEntry("x-content-type-options", "nosniff");
    Matcher asset = Pattern.compile("(?:src|href)=\"(/[^\"$]+)\"").matcher(page.body());
    while (asset.find()) {
      String path = asset.group(1);
      Answer answer = send(get(path));
      assertThat(answer.status()).as(path).isEqualTo(200);
      assertThat(answer.headers()).as(path).containsEntry("x-content-type-options", "nosniff");
      String type = answer.headers().get("content-type");
      if (path.endsWith(".js")) {
        assertThat(type).as(path).matches("(text|application)/javascript.*");
      } else if (path.endsWith(".css")) {
        assertThat(type).as(path).startsWith("text/css");
      }
    }
  }

  @org.springframework.beans.factory.annotation.Autowired
  tools.jackson.databind.json.JsonMapper codecJson;

  /**
   * Any other body a route binds with the HTTP codecs is as strict: the failure names the field,
   * which the error handler answers as 400 INVALID_REQUEST.
   */
  @Test
  void theCodecsJsonIsStrictToo() {
    for (var wrong :
        List.of(
            Map.entry("{\"functionId\":\"f\",\"requestId\":123}", "requestId"),
            Map.entry("{\"functionId\":true}", "functionId"),
            Map.entry("{\"functionId\":\"f\",\"foo\":1}", "foo"),
            Map.entry("{\"__proto__\":{}}", "__proto__"),
            Map.entry("{\"@class\":\"java.lang.Runtime\"}", "@class"))) {
      Throwable failure =
          org.assertj.core.api.Assertions.catchThrowable(
              () -> codecJson.readValue(wrong.getKey(), ApiMessages.StartGeneration.class));
      assertThat(failure).as(wrong.getKey()).isNotNull();
      assertThat(StrictJsonBodies.problemOf(failure).field())
          .as(wrong.getKey())
          .isEqualTo(wrong.getValue());
    }
    assertThat(
            org.assertj.core.api.Assertions.catchThrowable(() ->
                codecJson.readValue(
                    "{\"functionId\":\"a\",\"functionId\":\"b\"}",
                    ApiMessages.StartGeneration.class)))
        .isNotNull();
    ApiMessages.StartGeneration fine =
        codecJson.readValue(
            "{\"functionId\":\"f\",\"parameters\":{\"color\":255,\"on\":true}}",
            ApiMessages.StartGeneration.class);
    assertThat(fine.parameters()).containsEntry("color", 255).containsEntry("on", true);
  }

  static Case get(String path) {
    return new Case(0, 200, "-", null, "GET", path, Map.of(), null);
  }

  static void assertNoLeak(String body) {
    for (String leak : LEAKS) {
      assertThat(body).as("the answer leaks '%s'", leak).doesNotContain(leak);
    }
  }

  /** A normal generation starts, runs and succeeds: nothing hostile harmed the system. */
  void aNormalGenerationStillSucceeds() throws IOException {
    Answer answer =
        send(
            new Case(
                0,
                202,
                "-",
                null,
                "POST",
                "/api/generations",
                Map.of("Content-Type", "application/json"),
                "{" + OK + ",\"parameters\":{\"color\":255}}"));
    assertThat(answer.status()).as(answer.body()).isEqualTo(202);
    String id = JSON.readTree(answer.body()).path("id").asText();
    String[] status = {null};
    org.awaitility.Awaitility.await()
        .atMost(java.time.Duration.ofSeconds(60))
        .until(() -> {
          Answer state =
              send(new Case(0, 200, "-", null, "GET", "/api/generations/" + id, Map.of(), null));
          status[0] = JSON.readTree(state.body()).path("status").asText();
          return status[0].matches("SUCCEEDED|FAILED|CANCELLED");
        });
    assertThat(status[0]).as("the normal generation after the case").isEqualTo("SUCCEEDED");
  }

  /** One request on its own connection, written byte for byte; the answer read to its end. */
  Answer send(Case c) throws IOException {
    byte[] request;
    if (c.method().equals("RAW")) {
      request = c.body().replace("\\r", "\r").replace("\\n", "\n").getBytes(StandardCharsets.UTF_8);
    } else {
      byte[] body = c.body() == null ? new byte[0] : c.body().getBytes(StandardCharsets.UTF_8);
      boolean chunked = "chunked".equalsIgnoreCase(c.headers().get("Transfer-Encoding"));
      StringBuilder head = new StringBuilder();
      head.append(c.method()).append(' ').append(c.target()).append(" HTTP/1.1\r\n");
      head.append("Host: 127.0.0.1:").append(port).append("\r\n");
      head.append("Connection: close\r\n");
      // an operator key unless the case says which (or 'none')
      if (!c.headers().containsKey("Authorization")) {
        head.append("Authorization: Bearer ").append(key("#operator")).append("\r\n");
      }
      c.headers()
          .forEach((k, v) -> {
            if (!(k.equals("Authorization") && v.equals("none"))) {
              head.append(k).append(": ").append(v).append("\r\n");
            }
          });
      if (!chunked && c.body() != null && !c.headers().containsKey("Content-Length")) {
        head.append("Content-Length: ").append(body.length).append("\r\n");
      }
      head.append("\r\n");
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      out.writeBytes(head.toString().getBytes(StandardCharsets.UTF_8));
      if (chunked) {
        for (int at = 0; at < body.length; at += 65536) {
          int n = Math.min(65536, body.length - at);
          out.writeBytes((Integer.toHexString(n) + "\r\n").getBytes(StandardCharsets.US_ASCII));
          out.write(body, at, n);
          out.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
        }
        out.writeBytes("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      } else {
        out.writeBytes(body);
      }
      request = out.toByteArray();
    }
    try (Socket socket = new Socket("127.0.0.1", port)) {
      socket.setSoTimeout((int) TimeUnit.SECONDS.toMillis(60));
      // written from another thread: the server may answer (and stop reading) before it all went
      OutputStream os = socket.getOutputStream();
      Thread writer =
          Thread.ofVirtual()
              .start(() -> {
                try {
                  os.write(request);
                  os.flush();
                } catch (IOException e) {
                  // the server refused before reading it all: its answer is what is checked
                }
              });
      byte[] raw = readAll(socket.getInputStream());
      writer.interrupt();
      return parse(raw);
    }
  }

  /**
   * Everything the server sent. A server that refuses a body before reading it closes the
   * connection with the body unread, which may reset it after its answer: what arrived before the
   * reset is the answer.
   */
  static byte[] readAll(InputStream in) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] buffer = new byte[65536];
    try {
      for (int n; (n = in.read(buffer)) >= 0; ) {
        out.write(buffer, 0, n);
      }
    } catch (java.net.SocketException reset) {
      if (out.size() == 0) {
        throw reset;
      }
    }
    return out.toByteArray();
  }

  static Answer parse(byte[] raw) {
    String text = new String(raw, StandardCharsets.ISO_8859_1);
    int end = text.indexOf("\r\n\r\n");
    assertThat(end).as("an HTTP answer: %s", text).isPositive();
    String[] lines = text.substring(0, end).split("\r\n");
    int status = Integer.parseInt(lines[0].split(" ")[1]);
    Map<String, String> headers = new LinkedHashMap<>();
    for (int i = 1; i < lines.length; i++) {
      int colon = lines[i].indexOf(':');
      headers.put(
          lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT),
          lines[i].substring(colon + 1).trim());
    }
    byte[] bodyBytes = java.util.Arrays.copyOfRange(raw, end + 4, raw.length);
    String body = new String(bodyBytes, StandardCharsets.UTF_8);
    if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
      body = dechunk(body);
    }
    return new Answer(status, headers, body);
  }

  static String dechunk(String body) {
    StringBuilder out = new StringBuilder();
    int at = 0;
    while (at < body.length()) {
      int eol = body.indexOf("\r\n", at);
      if (eol < 0) {
        break;
      }
      int size = Integer.parseInt(body.substring(at, eol).split(";")[0].trim(), 16);
      if (size == 0) {
        break;
      }
      out.append(body, eol + 2, eol + 2 + size);
      at = eol + 2 + size + 2;
    }
    return out.toString();
  }

  /**
   * Sends one text message on a new canvas WebSocket, after authenticating with an operator key
   * ({@code authorization} 'none': without; 'Bearer …': with that key); the server's first reply
   * that is not {@code authenticated}.
   */
  String webSocket(String message, String authorization) throws Exception {
    CompletableFuture<String> first = new CompletableFuture<>();
    boolean authenticates = authorization == null || !authorization.equals("none");
    boolean[] skip = {authenticates};
    WebSocket socket =
        HttpClient.newHttpClient()
            .newWebSocketBuilder()
            .buildAsync(
                URI.create("ws://127.0.0.1:" + port + "/ws"),
                new WebSocket.Listener() {
                  final StringBuilder text = new StringBuilder();

                  @Override
                  public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
                    text.append(data);
                    if (last) {
                      if (skip[0] && text.toString().contains("\"type\":\"authenticated\"")) {
                        skip[0] = false; // the answer to this test's own authenticate
                      } else {
                        first.complete(text.toString());
                      }
                      text.setLength(0);
                    }
                    ws.request(1);
                    return null;
                  }
                })
            .get(30, TimeUnit.SECONDS);
    try {
      if (authenticates) {
        String key =
            authorization == null ? key("#operator") : authorization.substring("Bearer ".length());
        socket
            .sendText("{\"type\":\"authenticate\",\"key\":\"" + key + "\"}", true)
            .get(30, TimeUnit.SECONDS);
      }
      socket.sendText(message, true).get(30, TimeUnit.SECONDS);
      return first.get(60, TimeUnit.SECONDS);
    } finally {
      socket.abort();
    }
  }
}
