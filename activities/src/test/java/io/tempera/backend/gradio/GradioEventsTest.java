package io.tempera.backend.gradio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.backend.BackendProgress;
import org.junit.jupiter.api.Test;

/** What queue messages and /call results mean, without a server. */
class GradioEventsTest {

  final ObjectMapper json = new ObjectMapper();

  JsonNode read(String s) throws Exception {
    return json.readTree(s);
  }

  @Test
  void queueMessagesAsProgress() throws Exception {
    assertThat(GradioEvents.estimation(read("{\"rank\":2,\"queue_size\":3,\"rank_eta\":12.4}")))
        .isEqualTo(
            new BackendProgress(
                0,
                null,
                null,
                3,
                "Waiting in the generator's queue (position 3 of 3), done in about 12 s",
                null,
                false,
                12.4,
                null));
    assertThat(GradioEvents.estimation(read("{\"rank\":0,\"rank_eta\":null}")).message())
        .isEqualTo("Waiting in the generator's queue (position 1)");
    assertThat(GradioEvents.processStarts(read("{\"eta\":0.2}")).message())
        .isEqualTo("Starting (about 1 s)");
    assertThat(GradioEvents.processStarts(read("{\"eta\":7.5}")).etaSeconds()).isEqualTo(7.5);
    assertThat(GradioEvents.estimation(read("{\"rank\":0,\"rank_eta\":null}")).etaSeconds())
        .isNull();
    assertThat(GradioEvents.processStarts(read("{}")).message()).isEqualTo("Starting");
  }

  @Test
  void nestedProgressIsOneFractionAndTheOuterStep() throws Exception {
    BackendProgress p =
        GradioEvents.progress(
            read(
                "[{\"index\":1,\"length\":4,\"desc\":\"Batches\"},{\"index\":5,\"length\":10,\"desc\":\"Denoising\"}]"));
    assertThat(p.fraction()).isEqualTo(0.25 + 0.25 * 0.5);
    assertThat(p.step()).isEqualTo(1);
    assertThat(p.totalSteps()).isEqualTo(4);
    assertThat(p.message()).isEqualTo("Batches: step 1 of 4");
    assertThat(GradioEvents.progress(read("[{\"progress\":0.9,\"desc\":null}]")))
        .isEqualTo(new BackendProgress(0.9, null, null, null, "Generating", null));
    assertThat(GradioEvents.progress(read("[]")).message()).isEqualTo("Generating");
  }

  @Test
  void completionsCancellationsAndErrors() throws Exception {
    GradioResult done =
        GradioEvents.completed(
            read("{\"success\":true,\"output\":{\"data\":[\"a\",1]}}"), "e1", "raw");
    assertThat(done.cancelled()).isFalse();
    assertThat(done.data()).hasSize(2);
    assertThat(
            GradioEvents.completed(read("{\"success\":true,\"output\":{}}"), "e1", "raw")
                .cancelled())
        .isTrue();
    assertThatThrownBy(() ->
            GradioEvents.completed(
                read("{\"success\":false,\"output\":{\"error\":null}}"), "e1", "raw"))
        .isInstanceOfSatisfying(
            GradioException.class,
            e -> {
              assertThat(e.kind()).isEqualTo(GradioException.Kind.EXECUTION);
              assertThat(e.getMessage()).isEqualTo(GradioEvents.NO_MESSAGE);
            });
    assertThatThrownBy(
            () -> GradioEvents.completed(read("{\"success\":true,\"output\":[]}"), "e1", "raw"))
        .isInstanceOfSatisfying(
            GradioException.class,
            e -> assertThat(e.kind()).isEqualTo(GradioException.Kind.PROTOCOL));

    assertThat(GradioEvents.callCompleted(read("null"), "e2", "null").cancelled()).isTrue();
    assertThat(GradioEvents.callCompleted(read("[\"x\"]"), "e2", "[\"x\"]").data()).hasSize(1);
    assertThatThrownBy(() -> GradioEvents.callCompleted(read("{}"), "e2", "{}"))
        .isInstanceOfSatisfying(
            GradioException.class,
            e -> assertThat(e.getMessage()).isEqualTo("the /call result is not a list: {}"));
    assertThat(GradioEvents.callError(read("\"boom\""))).hasMessage("boom");
    assertThat(GradioEvents.callError(read("{\"error\":\"bang\"}"))).hasMessage("bang");
    assertThat(GradioEvents.callError(null)).hasMessage(GradioEvents.NO_MESSAGE);
  }

  @Test
  void generatorOutputsTakeDiffsAndKeepTheirCount() throws Exception {
    GradioEvents.Outputs outputs = new GradioEvents.Outputs();
    outputs.update((com.fasterxml.jackson.databind.node.ArrayNode) read("[\"a\"]"));
    outputs.update(
        (com.fasterxml.jackson.databind.node.ArrayNode) read("[[[\"append\",[],\"b\"]]]"));
    assertThat(outputs.preview(f -> new byte[0])).as("no file in the outputs").isNull();
    assertThatThrownBy(
            () -> outputs.update((com.fasterxml.jackson.databind.node.ArrayNode) read("[[],[]]")))
        .isInstanceOfSatisfying(
            GradioException.class,
            e -> assertThat(e.getMessage()).isEqualTo("a generator update has 2 outputs, not 1"));
  }

  @Test
  void anAppsMessageIsToldAsItWroteItOnEveryVersion() throws Exception {
    // 4.x sends a gr.Error's text as Python's repr of it
    assertThat(GradioEvents.unquoted("'The prompt is not allowed: fox'"))
        .isEqualTo("The prompt is not allowed: fox");
    assertThat(GradioEvents.unquoted("\"it's not allowed\"")).isEqualTo("it's not allowed");
    assertThat(GradioEvents.unquoted("'it\\'s \\\\ not'")).isEqualTo("it's \\ not");
    // 5.x and 6.x send it plain; an app's own quotes stay
    assertThat(GradioEvents.unquoted("The prompt is not allowed"))
        .isEqualTo("The prompt is not allowed");
    assertThat(GradioEvents.unquoted("'a' and 'b'")).isEqualTo("'a' and 'b'");
    assertThat(
            GradioEvents.logText(
                read("{\"log\":\" Using the small model \",\"level\":\"warning\"}")))
        .isEqualTo("Using the small model");
    assertThat(GradioEvents.logText(read("{\"log\":null}"))).isNull();
  }

  @Test
  void aStreamedTextShowsItsLatestWords() throws Exception {
    GradioEvents.Outputs outputs = new GradioEvents.Outputs();
    outputs.update((com.fasterxml.jackson.databind.node.ArrayNode) read("[\"Once\"]"));
    assertThat(outputs.latestText()).isEqualTo("Once");
    outputs.update(
        (com.fasterxml.jackson.databind.node.ArrayNode)
            read("[[[\"append\",[],\" upon a time\"]]]"));
    assertThat(outputs.latestText()).isEqualTo("Once upon a time");
  }
}
