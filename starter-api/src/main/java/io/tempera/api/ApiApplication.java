package io.tempera.api;

import io.tempera.config.TemperaCoreConfiguration;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.annotation.Import;

/** The API on its own, connecting to a Temporal server where workers run elsewhere. */
@SpringBootApplication
@Import({TemperaCoreConfiguration.class, io.tempera.security.SecurityConfiguration.class})
public class ApiApplication {

  public static void main(String[] args) {
    if (io.tempera.security.KeysCommand.wanted(args)) {
      System.exit(
          io.tempera.security.KeysCommand.run(args, System.getenv(), System.out, System.err));
    }
    if (io.tempera.ops.OpsCommand.wanted(args)) {
      System.exit(io.tempera.ops.OpsCommand.run(args, System.getenv(), System.out, System.err));
    }
    new SpringApplicationBuilder(ApiApplication.class)
        .properties("spring.config.name=tempera-api,application")
        .run(args);
  }
}
