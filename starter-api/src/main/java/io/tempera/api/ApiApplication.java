package io.tempera.api;

import io.tempera.config.TemperaCoreConfiguration;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.annotation.Import;

/** The API on its own, connecting to a Temporal server where workers run elsewhere. */
@SpringBootApplication
@Import(TemperaCoreConfiguration.class)
public class ApiApplication {

  public static void main(String[] args) {
    new SpringApplicationBuilder(ApiApplication.class)
        .properties("spring.config.name=tempera-api,application")
        .run(args);
  }
}
