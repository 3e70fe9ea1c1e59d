package io.tempera.testkit.comfyui;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PromptGraphTest {

  @TempDir Path input;

  static ObjectNode graph(int color) throws Exception {
    return (ObjectNode)
        new ObjectMapper()
            .readTree(
                """
                {"3":{"class_type":"SaveImage","inputs":{"images":["2",0],"filename_prefix":"t"}},
                 "2":{"class_type":"ImageInvert","inputs":{"image":["1",0]}},
                 "1":{"class_type":"EmptyImage","inputs":{"width":4,"height":2,"batch_size":1,"color":%d}},
                 "9":{"class_type":"EmptyImage","inputs":{"width":1,"height":1,"batch_size":1,"color":0}}}\
                """
                    .formatted(color));
  }

  @Test
  void theNodesAnOutputNeedsRunDependenciesFirst() throws Exception {
    assertThat(PromptGraph.executionOrder(graph(1), List.of("3"))).containsExactly("1", "2", "3");
  }

  @Test
  void anOutputNodeRunsAsSoonAsItsInputsAreReadyAsComfyUisExecutionListPicksThem()
      throws Exception {
    ObjectNode prompt =
        (ObjectNode)
            new ObjectMapper()
                .readTree(
                    """
                    {"1":{"class_type":"EmptyImage","inputs":{}},
                     "2":{"class_type":"ImageScale","inputs":{"image":["1",0]}},
                     "3":{"class_type":"ImagePadForOutpaint","inputs":{"image":["2",0]}},
                     "4":{"class_type":"SaveImage","inputs":{"images":["3",0]}},
                     "5":{"class_type":"SaveImageWebsocket","inputs":{"images":["1",0]}}}\
                    """);
    Set<String> outputs = Set.of("4", "5");

    assertThat(PromptGraph.runOrder(prompt, List.of("4", "5"), Set.of(), outputs::contains))
        .containsExactly("1", "5", "2", "3", "4");
    assertThat(PromptGraph.runOrder(prompt, List.of("4", "5"), Set.of("1"), outputs::contains))
        .as("a cached node is not run")
        .containsExactly("5", "2", "3", "4");
  }

  @Test
  void cacheKeysChangeWithALiteralInputAndEverythingDownstreamOfIt() throws Exception {
    List<String> order = List.of("1", "2", "3");
    Map<String, String> one = PromptGraph.cacheKeys(graph(1), order, input);
    Map<String, String> same = PromptGraph.cacheKeys(graph(1), order, input);
    Map<String, String> other = PromptGraph.cacheKeys(graph(2), order, input);
    assertThat(same).isEqualTo(one);
    for (String id : order) {
      assertThat(other.get(id)).as("node " + id).isNotEqualTo(one.get(id));
    }
  }

  @Test
  void aWebsocketSaveIsNeverCached() throws Exception {
    ObjectNode prompt =
        (ObjectNode)
            new ObjectMapper()
                .readTree(
                    """
                    {"1":{"class_type":"SaveImageWebsocket","inputs":{}}}\
                    """);
    assertThat(PromptGraph.cacheKeys(prompt, List.of("1"), input))
        .isNotEqualTo(PromptGraph.cacheKeys(prompt, List.of("1"), input));
  }
}
