package io.tempera.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tempera.containers.DockerModelHost;
import io.tempera.containers.DockerModelHostOptions;
import io.tempera.containers.RunningModel;
import io.tempera.models.ModelSpec;
import io.tempera.template.TemplateRegistry;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;

/**
 * Cold start of a model container (the testkit ComfyUI image, warm: already on the host) until its
 * health path answers, and the cost of reusing the running one. Needs a Docker engine and {@code
 * scripts/build-test-images.sh}. Seed target: cold start < 10 s for a warm image.
 */
public final class ModelColdStartBench {

  public static void main(String[] args) throws Exception {
    BenchSystem.reportingFailure(
        "model-cold-start.md", "Model container cold start", () -> run(args));
  }

  static void run(String[] args) throws Exception {
    int runs = args.length > 0 ? Integer.parseInt(args[0]) : 5;
    ModelSpec model =
        new TemplateRegistry(Path.of("templates"), new ObjectMapper(), 60_000)
            .model("testkit-comfyui")
            .orElseThrow();
    var docker = DockerModelHost.connect(System.getenv("DOCKER_HOST"));
    List<Long> cold = new ArrayList<>();
    List<Long> reuse = new ArrayList<>();
    for (int i = 0; i < runs; i++) {
      String hostId = "bench-" + UUID.randomUUID().toString().substring(0, 8);
      try (DockerModelHost host =
          new DockerModelHost(
              docker,
              DockerModelHostOptions.defaults(hostId, Map.of(0, 4096)),
              new SimpleMeterRegistry())) {
        RunningModel first = host.acquire("bench-1", model, 0);
        cold.add(first.coldStartMillis());
        long began = System.nanoTime();
        host.acquire("bench-2", model, 0);
        reuse.add((System.nanoTime() - began) / 1_000);
        host.release("bench-1", model.id());
        host.release("bench-2", model.id());
      }
      System.out.printf(
          Locale.ROOT, "run %d: cold start %d ms, reuse %d µs%n", i + 1, cold.get(i), reuse.get(i));
    }
    long coldP50 = p50(cold);
    BenchSystem.write(
        "model-cold-start.md",
        String.format(
            Locale.ROOT,
            """
            # Model container cold start
            date: %s
            machine: %d cores, JDK %s
            setup: image %s (already on the host), a new container per run until %s answers, %d runs

            cold start: p50 %d ms, max %d ms (%s)
            reuse of the running container: p50 %d µs

            target: cold start < 10 s for a warm image -> %s
            """,
            Instant.now(),
            Runtime.getRuntime().availableProcessors(),
            System.getProperty("java.version"),
            model.image(),
            model.healthPath(),
            runs,
            coldP50,
            cold.stream().mapToLong(Long::longValue).max().orElse(0),
            cold,
            p50(reuse),
            coldP50 < 10_000 ? "met" : "NOT met"));
  }

  static long p50(List<Long> values) {
    List<Long> sorted = values.stream().sorted().toList();
    return sorted.get(sorted.size() / 2);
  }
}
