package io.tempera.api;

import io.tempera.template.FunctionTemplate;
import io.tempera.template.NodeProblem;
import java.util.List;
import org.springframework.core.env.Environment;
import org.springframework.stereotype.Component;

/**
 * Whether the servers a function's backend needs are configured, as far as this process knows: an
 * application that runs the workers too (the embedded one) reads their {@code
 * tempera.worker.gradio-urls}; when none is set there, a Gradio function cannot run and is not
 * offered. An API running alone does not have the workers' settings (the property is absent) and
 * offers it: its workers answer for it.
 */
@Component
public class ConfiguredBackends {

  /** The code of the problem a function whose backend has no server gets. */
  public static final String BACKEND_NOT_CONFIGURED = "BACKEND_NOT_CONFIGURED";

  static final String GRADIO_URLS = "tempera.worker.gradio-urls";

  private final Environment environment;

  public ConfiguredBackends(Environment environment) {
    this.environment = environment;
  }

  /** Why {@code template} cannot run here for want of a configured server; empty when it can. */
  public List<NodeProblem> problems(FunctionTemplate template) {
    if (!"gradio".equals(template.backendType()) || !environment.containsProperty(GRADIO_URLS)) {
      return List.of();
    }
    String urls = environment.getProperty(GRADIO_URLS, "");
    if (!urls.isBlank()) {
      return List.of();
    }
    return List.of(
        new NodeProblem(
            template.id(),
            template.version(),
            template.sourceFile(),
            "$.backend.type",
            null,
            null,
            null,
            BACKEND_NOT_CONFIGURED,
            "no Gradio server is configured: an operator sets TEMPERA_GRADIO_URLS"
                + " (tempera.worker.gradio-urls) to the app's address",
            true));
  }
}
