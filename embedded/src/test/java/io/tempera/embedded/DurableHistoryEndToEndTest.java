package io.tempera.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * History that survives a restart of the default run: generations run, the embedded system (and its
 * Temporal server) stops, starts again on the same folders, and then lists them, reads their states
 * and serves their outputs and previews, byte for byte. On the Temporal CLI's dev server with its
 * database file (what {@code ./tempera run} uses), and on the in-process test server (the
 * fallback), where the finished ones come back from the output store's records.
 */
class DurableHistoryEndToEndTest {

  private static final String PROJECT = "durable";

  @Test
  void generationsSurviveARestartOnTheDevServer() throws Exception {
    String cli = TemporalDevServer.cli();
    Path root =
        EmbeddedTestRoot.create(
            "tempera-durable-dev", EmbeddedTestRoot.activitiesTemplate("slow-invert"));
    Path database = root.resolve("temporal.db");
    Path log = root.resolve("temporal.log");
    Before before;
    try (TemporalDevServer temporal = TemporalDevServer.start(cli, database, log);
        EmbeddedRun run = EmbeddedRun.start(root, temporal.target())) {
      before = generate(run);
    }
    try (TemporalDevServer temporal = TemporalDevServer.start(cli, database, log);
        EmbeddedRun run = EmbeddedRun.start(root, temporal.target())) {
      after(run, before);
    }
  }

  @Test
  void finishedGenerationsSurviveARestartOfTheInProcessFallback() throws Exception {
    Path root =
        EmbeddedTestRoot.create(
            "tempera-durable-fallback", EmbeddedTestRoot.activitiesTemplate("slow-invert"));
    Before before;
    try (EmbeddedRun run = EmbeddedRun.start(root, null)) {
      before = generate(run);
    }
    try (EmbeddedRun run = EmbeddedRun.start(root, null)) {
      after(run, before);
    }
  }

  /** What the first run made: generation ids oldest first, their outputs' bytes, by id. */
  record Before(List<String> ids, Map<String, byte[]> outputs, Map<String, byte[]> previews) {}

  /**
   * Three generations, one after the other (two on node n1, one slow one with previews on n2), each
   * followed to its end through the API; then a fourth on n3 whose end the API never reads (awaited
   * on Temporal directly): before the restart nothing asked the API for it.
   */
  private static Before generate(EmbeddedRun run) throws Exception {
    String image = run.upload(PROJECT);
    List<String> ids = new ArrayList<>();
    Map<String, byte[]> outputs = new LinkedHashMap<>();
    Map<String, byte[]> previews = new LinkedHashMap<>();
    for (String[] spec :
        List.of(
            new String[] {"n1", "invert"},
            new String[] {"n2", "slow-invert"},
            new String[] {"n1", "invert"})) {
      Map<String, Object> more = spec[1].equals("slow-invert") ? Map.of("steps", 3) : Map.of();
      String id = run.start(PROJECT, spec[0], spec[1], image, more);
      JsonNode done = run.awaitEnd(id);
      assertThat(done.get("status").asText()).as(done.toString()).isEqualTo("SUCCEEDED");
      HttpResponse<byte[]> file = run.download(done.get("outputs").get(0).get("url").asText());
      assertThat(file.statusCode()).isEqualTo(200);
      outputs.put(id, file.body());
      if (spec[1].equals("slow-invert")) {
        HttpResponse<byte[]> preview =
            run.http.send(
                EmbeddedTestRoot.request(run.root(), run.uri("/api/generations/" + id + "/preview"))
                    .build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertThat(preview.statusCode()).as("the slow one's preview").isEqualTo(200);
        previews.put(id, preview.body());
      }
      ids.add(id);
    }
    String unread = run.start(PROJECT, "n3", "invert", image, Map.of());
    run.bean(io.temporal.client.WorkflowClient.class)
        .newUntypedWorkflowStub(unread)
        .getResult(60, java.util.concurrent.TimeUnit.SECONDS, JsonNode.class);
    Path rendered;
    try (java.util.stream.Stream<Path> files =
        java.nio.file.Files.list(
            run.root().resolve("outputs/" + PROJECT + "/outputs/renders/n3"))) {
      rendered = files.findFirst().orElseThrow();
    }
    outputs.put(unread, java.nio.file.Files.readAllBytes(rendered));
    ids.add(unread);
    return new Before(ids, outputs, previews);
  }

  /** After the restart: listed newest first, filtered, paged; states, outputs and previews. */
  private static void after(EmbeddedRun run, Before before) throws Exception {
    List<String> newestFirst = new ArrayList<>(before.ids());
    java.util.Collections.reverse(newestFirst);

    JsonNode page = run.getJson("/api/generations?project=" + PROJECT);
    assertThat(ids(page)).containsExactlyElementsOf(newestFirst);
    for (JsonNode item : page.get("items")) {
      String id = item.get("id").asText();
      assertThat(item.get("status").asText()).isEqualTo("SUCCEEDED");
      assertThat(item.get("projectId").asText()).isEqualTo(PROJECT);
      assertThat(item.get("startedAt").asText()).isNotBlank();
      HttpResponse<byte[]> listed = run.download(item.get("outputs").get(0).get("url").asText());
      assertThat(listed.statusCode()).as(id).isEqualTo(200);
      assertThat(listed.body()).as(id).isEqualTo(before.outputs().get(id));

      JsonNode state = run.getJson("/api/generations/" + id);
      assertThat(state.get("status").asText()).isEqualTo("SUCCEEDED");
      HttpResponse<byte[]> output = run.download(state.get("outputs").get(0).get("url").asText());
      assertThat(output.statusCode()).as(id).isEqualTo(200);
      assertThat(output.body()).as(id).isEqualTo(before.outputs().get(id));
    }
    for (Map.Entry<String, byte[]> preview : before.previews().entrySet()) {
      HttpResponse<byte[]> again =
          run.http.send(
              EmbeddedTestRoot.request(
                      run.root(), run.uri("/api/generations/" + preview.getKey() + "/preview"))
                  .build(),
              HttpResponse.BodyHandlers.ofByteArray());
      assertThat(again.statusCode()).as("the preview after the restart").isEqualTo(200);
      assertThat(again.body()).isEqualTo(preview.getValue());
    }

    // filtered by node, and paged with the cursor
    assertThat(ids(run.getJson("/api/generations?project=" + PROJECT + "&node=n1")))
        .containsExactly(newestFirst.get(1), newestFirst.get(3));
    JsonNode first = run.getJson("/api/generations?project=" + PROJECT + "&limit=3");
    assertThat(ids(first)).containsExactlyElementsOf(newestFirst.subList(0, 3));
    String cursor = first.get("nextCursor").asText();
    JsonNode second =
        run.getJson("/api/generations?project=" + PROJECT + "&limit=3&cursor=" + cursor);
    assertThat(ids(second)).containsExactly(newestFirst.get(3));
    assertThat(second.path("nextCursor").isNull() || second.path("nextCursor").isMissingNode())
        .isTrue();

    // the gallery has the four outputs, newest first
    JsonNode gallery = run.getJson("/api/projects/" + PROJECT + "/outputs");
    List<String> galleryIds = new ArrayList<>();
    gallery.get("items").forEach(i -> galleryIds.add(i.get("generationId").asText()));
    assertThat(galleryIds).containsExactlyElementsOf(newestFirst);
  }

  private static List<String> ids(JsonNode page) {
    List<String> ids = new ArrayList<>();
    page.get("items").forEach(item -> ids.add(item.get("id").asText()));
    return ids;
  }
}
