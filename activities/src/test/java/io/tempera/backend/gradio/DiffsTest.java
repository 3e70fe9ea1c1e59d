package io.tempera.backend.gradio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

/** Gradio's generator diffs, as its JavaScript client applies them. */
class DiffsTest {

  final ObjectMapper json = new ObjectMapper();

  JsonNode apply(String current, String edits) throws Exception {
    return Diffs.apply(json.readTree(current), json.readTree(edits));
  }

  @Test
  void appendsToTextAtTheRoot() throws Exception {
    assertThat(apply("\"hello\"", "[[\"append\", [], \" world\"]]").asText())
        .isEqualTo("hello world");
  }

  @Test
  void replacesKeysOfAFileDataAsTheQueueStreamSendsThem() throws Exception {
    JsonNode value =
        apply(
            "{\"path\":\"/a.png\",\"url\":\"http://h/file=/a.png\",\"meta\":{\"_type\":\"gradio.FileData\"}}",
            "[[\"replace\",[\"path\"],\"/b.png\"],[\"replace\",[\"url\"],\"http://h/file=/b.png\"]]");
    assertThat(value.get("path").asText()).isEqualTo("/b.png");
    assertThat(value.get("url").asText()).isEqualTo("http://h/file=/b.png");
  }

  @Test
  void addsAndDeletesInListsAndObjects() throws Exception {
    JsonNode value =
        apply(
            "{\"rows\":[[\"a\",1]],\"x\":1}",
            "[[\"add\",[\"rows\",1],[\"b\",2]],[\"delete\",[\"x\"],null],[\"append\",[\"rows\",0,0],\"!\"]]");
    assertThat(value.toString()).isEqualTo("{\"rows\":[[\"a!\",1],[\"b\",2]]}");
  }

  @Test
  void aMalformedEditIsAProtocolError() {
    assertThatThrownBy(() -> apply("{}", "[[\"replace\"]]"))
        .isInstanceOfSatisfying(
            GradioException.class,
            e -> assertThat(e.kind()).isEqualTo(GradioException.Kind.PROTOCOL));
    assertThatThrownBy(() -> apply("[1]", "[[\"replace\",[5],2]]"))
        .isInstanceOfSatisfying(
            GradioException.class,
            e -> assertThat(e.kind()).isEqualTo(GradioException.Kind.PROTOCOL));
    assertThatThrownBy(() -> apply("{}", "[[\"explode\",[\"a\"],2]]"))
        .isInstanceOfSatisfying(
            GradioException.class, e -> assertThat(e.getMessage()).contains("explode"));
  }
}
