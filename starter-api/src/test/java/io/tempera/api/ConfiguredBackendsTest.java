package io.tempera.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.template.FunctionTemplate;
import io.tempera.template.NodeProblem;
import io.tempera.template.TemplateParser;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.mock.env.MockEnvironment;

/**
 * A Gradio function is unavailable where the workers' settings are known and name no Gradio server
 * (the embedded application without TEMPERA_GRADIO_URLS); available with one, and where the
 * settings are not known (an API alone); other backends are never affected.
 */
class ConfiguredBackendsTest {

  static final Path SHIPPED = Path.of("../templates/functions");

  static FunctionTemplate shipped(String id) {
    return new TemplateParser(new ObjectMapper())
        .parse(SHIPPED.resolve(id).resolve("template.json"))
        .template();
  }

  @Test
  void aGradioFunctionWithoutAConfiguredServerIsUnavailableWithAReasonForOperators() {
    FunctionTemplate paint = shipped("paint-square");
    assertThat(paint.backendType()).isEqualTo("gradio");
    List<NodeProblem> problems =
        new ConfiguredBackends(new MockEnvironment().withProperty("tempera.worker.gradio-urls", ""))
            .problems(paint);
    assertThat(problems).hasSize(1);
    NodeProblem problem = problems.get(0);
    assertThat(problem.code()).isEqualTo("BACKEND_NOT_CONFIGURED");
    assertThat(problem.blocking()).isTrue();
    assertThat(problem.functionId()).isEqualTo("paint-square");
    assertThat(problem.path()).isEqualTo("$.backend.type");
    assertThat(problem.reason())
        .isEqualTo(
            "no Gradio server is configured: an operator sets TEMPERA_GRADIO_URLS"
                + " (tempera.worker.gradio-urls) to the app's address");
    assertThat(
            new ConfiguredBackends(
                    new MockEnvironment().withProperty("tempera.worker.gradio-urls", "  "))
                .problems(paint))
        .hasSize(1);
  }

  @Test
  void withAServerOrWithoutTheWorkersSettingsItIsOfferedAndOtherBackendsAlwaysAre() {
    FunctionTemplate paint = shipped("paint-square");
    assertThat(
            new ConfiguredBackends(
                    new MockEnvironment()
                        .withProperty("tempera.worker.gradio-urls", "http://127.0.0.1:7860"))
                .problems(paint))
        .isEmpty();
    assertThat(new ConfiguredBackends(new MockEnvironment()).problems(paint)).isEmpty();
    assertThat(
            new ConfiguredBackends(
                    new MockEnvironment().withProperty("tempera.worker.gradio-urls", ""))
                .problems(shipped("generate-pattern")))
        .isEmpty();
  }
}
