package io.tempera.containers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.model.Container;
import com.github.dockerjava.api.model.Ports;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tempera.backend.comfyui.ComfyUiClient;
import io.tempera.backend.comfyui.ComfyUiClientOptions;
import io.tempera.backend.comfyui.PromptResult;
import io.tempera.generation.ErrorCode;
import io.tempera.models.ModelSpec;
import io.tempera.template.FunctionTemplate;
import io.tempera.template.QualityTier;
import io.tempera.template.TemplateRegistry;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link DockerModelHost} against a real Docker engine and the testkit ComfyUI image built by
 * {@code scripts/build-test-images.sh}. Run with {@code mvn -pl activities -am verify
 * -Pcontainers}. Every test has its own host id and ends with no container of that host left.
 */
class DockerModelHostContainerIT {

  static final ObjectMapper JSON = new ObjectMapper();
  static DockerClient docker;

  /** The shipped registry entry of the testkit image, as invert's ultra tier names it. */
  static ModelSpec testkit;

  @TempDir Path tmp;
  String hostId;
  final List<DockerModelHost> hosts = new ArrayList<>();
  SimpleMeterRegistry metrics;

  @BeforeAll
  static void engineAndImage() {
    docker = DockerModelHost.connect(System.getenv("DOCKER_HOST"));
    try {
      docker.pingCmd().exec();
    } catch (RuntimeException e) {
      fail(
          "The container tests need a running Docker engine (scripts/ensure-docker.sh): "
              + e.getMessage());
    }
    TemplateRegistry registry = new TemplateRegistry(Path.of("../templates"), JSON, 60_000);
    FunctionTemplate invert = registry.find("invert").orElseThrow();
    testkit = registry.model(invert, QualityTier.ULTRA).orElseThrow();
    try {
      docker.inspectImageCmd(testkit.image()).exec();
    } catch (RuntimeException e) {
      fail("Image " + testkit.image() + " is missing: run scripts/build-test-images.sh");
    }
  }

  @BeforeEach
  void setUp() {
    hostId = "it-" + UUID.randomUUID().toString().substring(0, 8);
    metrics = new SimpleMeterRegistry();
  }

  @AfterEach
  void noContainerOfThisHostIsLeft() {
    hosts.forEach(DockerModelHost::close);
    List<Container> left = containersOfHost();
    left.forEach(c -> docker.removeContainerCmd(c.getId()).withForce(true).exec());
    assertThat(left).as("containers of host " + hostId + " left behind").isEmpty();
  }

  DockerModelHost host(DockerModelHostOptions options) {
    DockerModelHost host = new DockerModelHost(docker, options, metrics);
    hosts.add(host);
    return host;
  }

  DockerModelHostOptions options(int budgetMb) {
    return new DockerModelHostOptions(
        hostId,
        Map.of(0, budgetMb),
        false,
        Duration.ofMinutes(5),
        Duration.ofMillis(250),
        Duration.ofSeconds(2),
        Duration.ofSeconds(2),
        20,
        null);
  }

  /** The testkit entry under another id and VRAM need: another model on the same image. */
  static ModelSpec model(String id, int vramMb) {
    return new ModelSpec(
        id,
        testkit.backendType(),
        testkit.image(),
        testkit.command(),
        Map.of("TEMPERA_MODEL", id),
        testkit.port(),
        testkit.healthPath(),
        vramMb,
        testkit.startTimeoutSeconds(),
        null);
  }

  List<Container> containersOfHost() {
    return docker
        .listContainersCmd()
        .withShowAll(true)
        .withLabelFilter(Map.of(DockerModelHost.LABEL_HOST, hostId))
        .exec();
  }

  boolean running(String containerId) {
    try {
      return Boolean.TRUE.equals(
          docker.inspectContainerCmd(containerId).exec().getState().getRunning());
    } catch (com.github.dockerjava.api.exception.NotFoundException e) {
      return false;
    }
  }

  static void await(String what, BooleanSupplier condition) {
    org.awaitility.Awaitility.await(what)
        .atMost(Duration.ofSeconds(60))
        .until(condition::getAsBoolean);
  }

  ObjectNode invertGraph(int color) throws Exception {
    return (ObjectNode)
        JSON.readTree(
            """
            {"1":{"class_type":"EmptyImage","inputs":{"width":6,"height":4,"batch_size":1,"color":%d}},
             "2":{"class_type":"ImageInvert","inputs":{"image":["1",0]}},
             "3":{"class_type":"SaveImage","inputs":{"images":["2",0],"filename_prefix":"inv"}}}\
            """
                .formatted(color));
  }

  ObjectNode slowGraph(int steps, int stepMs) throws Exception {
    return (ObjectNode)
        JSON.readTree(
            """
            {"1":{"class_type":"EmptyImage","inputs":{"width":8,"height":8,"batch_size":1,"color":%d}},
             "2":{"class_type":"TemperaDelay","inputs":{"image":["1",0],"steps":%d,"step_ms":%d}},
             "3":{"class_type":"SaveImage","inputs":{"images":["2",0],"filename_prefix":"slow"}}}\
            """
                .formatted(steps * 7 + stepMs, steps, stepMs));
  }

  static ComfyUiClient client(RunningModel running) {
    return new ComfyUiClient(
        java.net.URI.create(running.baseUrl()),
        new ComfyUiClientOptions(
            Duration.ofSeconds(2),
            Duration.ofSeconds(10),
            Duration.ofSeconds(1),
            Duration.ofSeconds(60)));
  }

  @Test
  void coldStartThenReuseAndARealPromptRunsInTheContainer() throws Exception {
    DockerModelHost host = host(options(2000));

    RunningModel first = host.acquire("gen-1", testkit, 0);
    assertThat(first.reused()).isFalse();
    assertThat(first.coldStartMillis()).isPositive();
    assertThat(first.baseUrl()).startsWith("http://127.0.0.1:");
    // published on loopback only, labelled for this host and model
    var inspect = docker.inspectContainerCmd(first.containerId()).exec();
    Ports.Binding binding =
        inspect.getNetworkSettings().getPorts().getBindings().values().iterator().next()[0];
    assertThat(binding.getHostIp()).isEqualTo("127.0.0.1");
    assertThat(inspect.getConfig().getLabels())
        .containsEntry(DockerModelHost.LABEL_HOST, hostId)
        .containsEntry(DockerModelHost.LABEL_MODEL, "testkit-comfyui")
        .containsKey(DockerModelHost.LABEL_SPEC_HASH);
    assertThat(inspect.getConfig().getEnv()).contains("TEMPERA_MODEL=testkit-comfyui");

    RunningModel second = host.acquire("gen-2", testkit, 0);
    assertThat(second.reused()).isTrue();
    assertThat(second.containerId()).isEqualTo(first.containerId());
    assertThat(second.coldStartMillis()).isZero();
    assertThat(host.holders("testkit-comfyui")).containsExactly("gen-1", "gen-2");

    // the full path: a ComfyUI prompt over the real protocol, its PNG downloaded from the container
    try (ComfyUiClient client = client(second)) {
      PromptResult result =
          client.run(invertGraph(0x102030), UUID.randomUUID().toString(), "it-client", u -> {});
      assertThat(result.status()).isEqualTo(PromptResult.Status.SUCCESS);
      Path png = tmp.resolve("inv.png");
      client.download(result.outputs().get(0), png);
      BufferedImage image = ImageIO.read(png.toFile());
      assertThat(image.getWidth()).isEqualTo(6);
      assertThat(image.getRGB(0, 0) & 0xffffff).isEqualTo(0xffffff - 0x102030);
    }

    host.release("gen-1", "testkit-comfyui");
    host.release("gen-2", "testkit-comfyui");
    host.release("gen-2", "testkit-comfyui"); // idempotent
    assertThat(host.holders("testkit-comfyui")).isEmpty();
    assertThat(host.containers()).containsEntry("testkit-comfyui", first.containerId());
    assertThat(metrics.get("tempera.model.cold.start").timer().count()).isEqualTo(1);
    assertThat(metrics.get("tempera.model.containers.running").gauge().value()).isEqualTo(1.0);
  }

  @Test
  void concurrentFirstAcquiresStartOneContainer() throws Exception {
    DockerModelHost host = host(options(2000));
    List<CompletableFuture<RunningModel>> acquires = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      String holder = "gen-" + i;
      acquires.add(CompletableFuture.supplyAsync(() -> host.acquire(holder, testkit, 0)));
    }
    List<RunningModel> got = acquires.stream().map(CompletableFuture::join).toList();
    assertThat(got).extracting(RunningModel::containerId).containsOnly(got.get(0).containerId());
    assertThat(got).filteredOn(r -> !r.reused()).hasSize(1);
    assertThat(containersOfHost()).hasSize(1);
  }

  @Test
  void anIdleContainerIsStoppedAfterTheIdleTimeout() throws Exception {
    DockerModelHost host = host(options(2000).withIdleTimeout(Duration.ofSeconds(1)));
    RunningModel running = host.acquire("gen-1", testkit, 0);
    Thread.sleep(1500);
    assertThat(running(running.containerId())).as("held containers are never idle").isTrue();

    host.release("gen-1", "testkit-comfyui");
    await("the idle container is stopped", () -> containersOfHost().isEmpty());
    assertThat(host.containers()).isEmpty();
    assertThat(metrics.get("tempera.model.idle.stops").counter().count()).isEqualTo(1);
  }

  @Test
  void theLeastRecentlyUsedIdleContainerIsEvictedAndAHeldOneNever() throws Exception {
    DockerModelHost host = host(options(1300));
    ModelSpec a = model("model-a", 600);
    ModelSpec b = model("model-b", 600);
    ModelSpec c = model("model-c", 600);
    ModelSpec d = model("model-d", 600);
    RunningModel ra = host.acquire("gen-1", a, 0);
    host.release("gen-1", "model-a");
    RunningModel rb = host.acquire("gen-2", b, 0);
    host.release("gen-2", "model-b");
    // a is used again: b is now the least recently used
    assertThat(host.acquire("gen-3", a, 0).reused()).isTrue();
    host.release("gen-3", "model-a");

    RunningModel rc = host.acquire("gen-4", c, 0);
    assertThat(rc.reused()).isFalse();
    assertThat(running(rb.containerId())).as("b evicted").isFalse();
    assertThat(running(ra.containerId())).as("a kept").isTrue();
    assertThat(host.containers().keySet()).containsExactlyInAnyOrder("model-a", "model-c");
    assertThat(metrics.get("tempera.model.evictions").counter().count()).isEqualTo(1);

    // a and c both held: d cannot get memory, and nothing held is evicted
    host.acquire("gen-5", a, 0);
    assertThatThrownBy(() -> host.acquire("gen-6", d, 0))
        .isInstanceOfSatisfying(
            ModelHostException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.BACKEND_BUSY));
    assertThat(running(ra.containerId())).isTrue();
    assertThat(running(rc.containerId())).isTrue();
    assertThat(host.holders("model-d")).isEmpty();

    // a model that never fits the GPU is unavailable, not busy
    assertThatThrownBy(() -> host.acquire("gen-7", model("model-huge", 5000), 0))
        .isInstanceOfSatisfying(
            ModelHostException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.MODEL_UNAVAILABLE));
  }

  @Test
  void aContainerKilledMidGenerationIsACrashWithItsLogAndIsRestartedForTheRetry() throws Exception {
    DockerModelHost host = host(options(2000));
    RunningModel first = host.acquire("gen-1", testkit, 0);
    CompletableFuture<PromptResult> run;
    try (ComfyUiClient client = client(first)) {
      run =
          CompletableFuture.supplyAsync(() ->
              // as ComfyUiBackend runs on a model container: its restart is the host's, not
              // waited for at the old address
              client.run(
                  uncheck(() -> slowGraph(100, 100)),
                  UUID.randomUUID().toString(),
                  "it-crash",
                  u -> {},
                  true,
                  java.time.Duration.ZERO));
      await("the prompt runs", () -> queueRunning(client));
      docker.killContainerCmd(first.containerId()).exec();
      PromptResult lost = null;
      try {
        lost = run.get(60, TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException expected) {
        // the connection died with the container
      }
      assertThat(lost == null || lost.status() != PromptResult.Status.SUCCESS).isTrue();
    }

    // the holder is told it was a crash, with the container's last log lines
    assertThatThrownBy(() -> host.verify("gen-1", "testkit-comfyui"))
        .isInstanceOfSatisfying(
            ModelHostException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.CONTAINER_CRASHED);
              assertThat(e.getMessage()).contains("exit code 137");
              assertThat(e.logTail()).contains("ComfyUI testkit server listening");
            });
    // the watcher restarts it for the holder it still has
    await(
        "a new container runs",
        () ->
            containersOfHost().stream()
                .anyMatch(
                    c -> !c.getId().equals(first.containerId()) && "running".equals(c.getState())));
    assertThat(metrics.get("tempera.model.restarts").counter().count()).isEqualTo(1);

    // the retry gets the restarted service and the generation runs
    RunningModel again = host.acquire("gen-1", testkit, 0);
    assertThat(again.containerId()).isNotEqualTo(first.containerId());
    host.verify("gen-1", "testkit-comfyui");
    try (ComfyUiClient client = client(again)) {
      assertThat(
              client
                  .run(invertGraph(7), UUID.randomUUID().toString(), "it-retry", u -> {})
                  .status())
          .isEqualTo(PromptResult.Status.SUCCESS);
    }
    assertThat(containersOfHost()).hasSize(1);
  }

  @Test
  void aRestartThatFailedIsStartedAgainWhenTheHolderAsksForTheCurrentService() throws Exception {
    String tag = "tempera/testkit-comfyui:it-" + hostId;
    String[] parts = tag.split(":", -1);
    docker.tagImageCmd(testkit.image(), parts[0], parts[1]).exec();
    ModelSpec tagged =
        new ModelSpec(
            "tagged",
            testkit.backendType(),
            tag,
            testkit.command(),
            Map.of("TEMPERA_MODEL", "tagged"),
            testkit.port(),
            testkit.healthPath(),
            100,
            testkit.startTimeoutSeconds(),
            null);
    try {
      DockerModelHost host = host(options(2000));
      RunningModel first = host.acquire("gen-1", tagged, 0);
      docker
          .removeImageCmd(tag)
          .exec(); // untags: the restart after the crash cannot create its container
      docker.killContainerCmd(first.containerId()).exec();
      await("the restart failed", () -> host.holders("tagged").isEmpty());

      docker.tagImageCmd(testkit.image(), parts[0], parts[1]).exec();
      RunningModel now = host.current("gen-1", tagged).orElseThrow();
      assertThat(now.containerId()).isNotEqualTo(first.containerId());
      assertThat(running(now.containerId())).isTrue();
      assertThat(host.holders("tagged")).containsExactly("gen-1");
      host.verify("gen-1", "tagged"); // the holder's service is the new one
      host.release("gen-1", "tagged");
    } finally {
      try {
        docker.removeImageCmd(tag).exec();
      } catch (RuntimeException gone) {
        // untagged already
      }
    }
  }

  @Test
  void aRestartedWorkerHoldsTheAdoptedContainerForAHolderThatAsksForItsService() throws Exception {
    DockerModelHost before = new DockerModelHost(docker, options(2000), metrics);
    RunningModel a = before.acquire("gen-1", model("model-a", 100), 0);
    before.abandon(); // the worker process dies mid-generation; its container stays

    DockerModelHost after = host(options(2000));
    assertThat(after.holders("model-a")).isEmpty();
    RunningModel now = after.current("gen-1", model("model-a", 100)).orElseThrow();
    assertThat(now.containerId()).isEqualTo(a.containerId());
    assertThat(after.holders("model-a"))
        .as("held again, so the idle reaper leaves it alone")
        .containsExactly("gen-1");
    assertThat(after.current("gen-9", model("model-b", 100)))
        .as("a model this host never ran")
        .isEmpty();
  }

  @Test
  void aContainerThatStopsAnsweringItsHealthCheckIsACrashAndIsRestarted() throws Exception {
    DockerModelHost host = host(options(2000));
    RunningModel first = host.acquire("gen-1", testkit, 0);
    docker.pauseContainerCmd(first.containerId()).exec(); // still "running", answers nothing

    await(
        "the hung container is replaced",
        () ->
            containersOfHost().stream()
                .anyMatch(
                    c -> !c.getId().equals(first.containerId()) && "running".equals(c.getState())));
    assertThatThrownBy(() -> host.verify("gen-1", "testkit-comfyui"))
        .isInstanceOfSatisfying(
            ModelHostException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.CONTAINER_CRASHED);
              assertThat(e.getMessage()).contains("stopped answering its health check");
            });
    RunningModel again = host.acquire("gen-1", testkit, 0);
    assertThat(again.containerId()).isNotEqualTo(first.containerId());
    assertThat(metrics.get("tempera.model.crashes").counter().count()).isEqualTo(1);
    await("the hung container is removed", () -> containersOfHost().size() == 1);
  }

  boolean queueRunning(ComfyUiClient client) {
    try {
      return new ObjectMapper()
              .readTree(new java.net.URI(client.baseUrl() + "/queue").toURL())
              .path("queue_running")
              .size()
          > 0;
    } catch (Exception e) {
      return false;
    }
  }

  @Test
  void aRestartedWorkerAdoptsItsRunningContainersAndRemovesDeadOnes() throws Exception {
    DockerModelHost before = new DockerModelHost(docker, options(2000), metrics);
    RunningModel a = before.acquire("gen-1", model("model-a", 100), 0);
    RunningModel b = before.acquire("gen-2", model("model-b", 100), 0);
    before.release("gen-1", "model-a");
    before.abandon(); // the worker process dies; its containers stay
    docker.killContainerCmd(b.containerId()).exec();

    DockerModelHost after = host(options(2000));
    assertThat(after.containers()).containsExactly(Map.entry("model-a", a.containerId()));
    assertThat(containersOfHost()).extracting(Container::getId).containsExactly(a.containerId());
    RunningModel adopted = after.acquire("gen-3", model("model-a", 100), 0);
    assertThat(adopted.reused()).isTrue();
    assertThat(adopted.containerId()).isEqualTo(a.containerId());
    assertThat(adopted.baseUrl()).isEqualTo(a.baseUrl());
    assertThat(after.vramInUse(0)).isEqualTo(100);
  }

  @Test
  void aChangedRegistryEntryReplacesTheIdleContainer() throws Exception {
    DockerModelHost host = host(options(2000));
    RunningModel old = host.acquire("gen-1", model("model-a", 100), 0);
    host.release("gen-1", "model-a");
    ModelSpec edited =
        new ModelSpec(
            "model-a",
            "comfyui",
            testkit.image(),
            List.of(),
            Map.of("TEMPERA_MODEL", "model-a", "EDITED", "1"),
            testkit.port(),
            testkit.healthPath(),
            100,
            60,
            null);
    RunningModel fresh = host.acquire("gen-2", edited, 0);
    assertThat(fresh.reused()).isFalse();
    assertThat(fresh.containerId()).isNotEqualTo(old.containerId());
    assertThat(running(old.containerId())).isFalse();
  }

  @Test
  void aMissingImageOrAFailingHealthCheckIsModelUnavailableAndLeavesNothing() {
    DockerModelHost host = host(options(2000));
    ModelSpec missing =
        new ModelSpec(
            "ghost",
            "comfyui",
            "tempera/no-such-image:none",
            List.of(),
            Map.of(),
            8188,
            "/system_stats",
            100,
            5,
            null);
    assertThatThrownBy(() -> host.acquire("gen-1", missing, 0))
        .isInstanceOfSatisfying(
            ModelHostException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.MODEL_UNAVAILABLE);
              assertThat(e.getMessage()).contains("is not on this host");
            });
    ModelSpec unhealthy =
        new ModelSpec(
            "sick",
            "comfyui",
            testkit.image(),
            List.of(),
            Map.of(),
            8188,
            "/no-such-path",
            100,
            4,
            null);
    assertThatThrownBy(() -> host.acquire("gen-2", unhealthy, 0))
        .isInstanceOfSatisfying(
            ModelHostException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.MODEL_UNAVAILABLE);
              assertThat(e.getMessage()).contains("did not become healthy within 4 s");
            });
    ModelSpec exits =
        new ModelSpec(
            "exits",
            "comfyui",
            testkit.image(),
            List.of("/opt/java/bin/java", "-version"),
            Map.of(),
            8188,
            "/system_stats",
            100,
            30,
            null);
    assertThatThrownBy(() -> host.acquire("gen-3", exits, 0))
        .isInstanceOfSatisfying(
            ModelHostException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.MODEL_UNAVAILABLE);
              assertThat(e.getMessage()).contains("exited while starting (exit code 0)");
              assertThat(e.logTail()).contains("version");
            });
    assertThat(containersOfHost()).isEmpty();
    assertThat(host.vramInUse(0)).isZero();
  }

  @Test
  void closeWaitsForHoldersThenRemovesEveryContainerOfThisHostOnly() throws Exception {
    DockerModelHost other =
        host(
            new DockerModelHostOptions(
                hostId + "-other",
                Map.of(0, 2000),
                false,
                null,
                Duration.ofMillis(250),
                Duration.ofSeconds(1),
                Duration.ofSeconds(2),
                20,
                null));
    RunningModel theirs = other.acquire("gen-x", model("model-a", 100), 0);

    DockerModelHost host =
        new DockerModelHost(
            docker, options(2000).withShutdownGrace(Duration.ofSeconds(1)), metrics);
    host.acquire("gen-1", model("model-a", 100), 0);
    host.acquire("gen-2", model("model-b", 100), 0);
    host.release("gen-2", "model-b");
    host.close(); // gen-1 never releases: the grace period ends it
    assertThat(containersOfHost()).isEmpty();
    assertThat(running(theirs.containerId())).as("another host's container is untouched").isTrue();
    assertThatThrownBy(() -> host.acquire("gen-3", model("model-a", 100), 0))
        .isInstanceOfSatisfying(
            ModelHostException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.MODEL_UNAVAILABLE));
    other.close();
    assertThat(
            docker
                .listContainersCmd()
                .withShowAll(true)
                .withLabelFilter(Map.of(DockerModelHost.LABEL_HOST, hostId + "-other"))
                .exec())
        .isEmpty();
  }

  interface ThrowingSupplier<T> {
    T get() throws Exception;
  }

  static <T> T uncheck(ThrowingSupplier<T> s) {
    try {
      return s.get();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
