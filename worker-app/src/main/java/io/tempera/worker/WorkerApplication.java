package io.tempera.worker;

import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.annotation.Import;

/** A worker host: runs generation workflows and activities against its backends. */
@SpringBootApplication
@Import(WorkerConfiguration.class)
public class WorkerApplication {

  public static void main(String[] args) {
    new SpringApplicationBuilder(WorkerApplication.class)
        .properties("spring.config.name=tempera-worker,application")
        .run(args);
  }
}
