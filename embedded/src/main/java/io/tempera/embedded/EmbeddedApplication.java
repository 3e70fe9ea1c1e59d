package io.tempera.embedded;

import io.tempera.api.ApiApplication;
import io.tempera.worker.WorkerConfiguration;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.annotation.Import;

/**
 * Everything in one process: the API, a worker, Temporal's in-process test server and the testkit
 * ComfyUI backend, with outputs on local disk. What {@code ./tempera run} starts.
 */
@SpringBootApplication(scanBasePackageClasses = ApiApplication.class)
@Import({EmbeddedConfiguration.class, WorkerConfiguration.class})
public class EmbeddedApplication {

  public static void main(String[] args) {
    if (io.tempera.security.KeysCommand.wanted(args)) {
      System.exit(
          io.tempera.security.KeysCommand.run(args, System.getenv(), System.out, System.err));
    }
    if (io.tempera.ops.OpsCommand.wanted(args)) {
      System.exit(io.tempera.ops.OpsCommand.run(args, System.getenv(), System.out, System.err));
    }
    new SpringApplicationBuilder(EmbeddedApplication.class)
        .properties("spring.config.name=tempera-embedded,application")
        .run(args);
  }
}
