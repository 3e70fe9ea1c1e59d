package io.tempera.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.tempera.generation.ErrorCode;
import io.tempera.generation.GenerationEnds;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationStatus;
import io.tempera.slots.Lease;
import io.tempera.slots.SlotAllocatorWorkflow;
import io.temporal.common.converter.DefaultDataConverter;
import io.temporal.failure.ApplicationFailure;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code ops …} against the in-process test server: a slot pool of one host and generations run by
 * the real workflow on scripted activities. The test server answers no visibility queries, so
 * {@code ops list} goes its fallback way there (the server's lists, filtered by the command); the
 * query it sends a real server is checked on its own.
 */
class OpsCommandTest {

  private OpsFixture system;

  @BeforeEach
  void setUp() {
    system = new OpsFixture();
  }

  @AfterEach
  void tearDown() {
    system.close();
  }

  private GenerationResult endOf(String id) {
    return GenerationEnds.of(system.client.newUntypedWorkflowStub(id));
  }

  private String failed(String requestId) {
    system.backend =
        job -> {
          throw ApplicationFailure.newNonRetryableFailure(
              "Node 3 failed", ErrorCode.EXECUTION_ERROR.name());
        };
    String id = system.start(requestId, "invert", "high", "demo");
    assertThat(endOf(id).status()).isEqualTo(GenerationStatus.FAILED);
    system.backend = OpsFixture::succeeds;
    return id;
  }

  @Test
  void usageErrorsExitWith2AndSayWhatIsWrong() {
    assertThat(system.ops())
        .satisfies(r -> {
          assertThat(r.exit()).isEqualTo(2);
          assertThat(r.err()).contains("ops needs a command").contains("usage: ops list");
        });
    assertThat(system.ops("frobnicate").err()).contains("unknown ops command 'frobnicate'");
    assertThat(system.ops("show").exit()).isEqualTo(2);
    assertThat(system.ops("show").err()).contains("ops show needs a generation id");
    assertThat(system.ops("show", "a", "b").exit()).isEqualTo(2);
    assertThat(system.ops("cancel", "gen-x", "--tier", "high").err())
        .contains("ops cancel has no option --tier");
    assertThat(system.ops("list", "--limit").err()).contains("--limit needs a value");
    assertThat(system.ops("list", "--limit", "none").err())
        .contains("--limit is a number from 1 to 10000");
    assertThat(system.ops("list", "--status", "broken").err())
        .contains("--status is one of queued, running, succeeded, failed, cancelled, open");
    assertThat(system.ops("list", "--tier", "gold").exit()).isEqualTo(2);
    assertThat(system.ops("list", "--project", "x' OR 'a'='a").err())
        .contains("--project takes letters, digits");
    assertThat(system.ops("drain").err()).contains("ops drain needs a host id");
    assertThat(system.ops("--help").exit()).isZero();
    assertThat(system.ops("list", "--help").out()).contains("usage: ops list");
  }

  @Test
  void aServerThatDoesNotAnswerIsExit1InOneLine() throws Exception {
    int port;
    try (java.net.ServerSocket free = new java.net.ServerSocket(0)) {
      port = free.getLocalPort();
    }
    java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
    int exit =
        OpsCommand.run(
            new String[] {"ops", "leases", "--address", "127.0.0.1:" + port},
            java.util.Map.of(),
            new java.io.PrintStream(new java.io.ByteArrayOutputStream(), true),
            new java.io.PrintStream(err, true, java.nio.charset.StandardCharsets.UTF_8));
    assertThat(exit).isEqualTo(1);
    assertThat(err.toString(java.nio.charset.StandardCharsets.UTF_8))
        .isEqualTo(
            "Temporal does not answer at 127.0.0.1:"
                + port
                + " within 5 s (set TEMPORAL_ADDRESS or --address)\n");
  }

  @Test
  void temporalCloudSettingsAreTheApps() throws Exception {
    assertThat(OpsCommand.serviceOptions("127.0.0.1:7233", java.util.Map.of()).getEnableHttps())
        .isFalse();
    var cloud =
        OpsCommand.serviceOptions(
            "ns.acct.tmprl.cloud:7233",
            java.util.Map.of(
                "SPRING_TEMPORAL_CONNECTION_APIKEY", "secret",
                "SPRING_TEMPORAL_CONNECTION_ENABLEHTTPS", "true"));
    assertThat(cloud.getEnableHttps()).isTrue();
    assertThat(cloud.getGrpcMetadataProviders()).isNotEmpty();
    assertThat(cloud.getTarget()).isEqualTo("ns.acct.tmprl.cloud:7233");
    java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
    int exit =
        OpsCommand.run(
            new String[] {"ops", "leases"},
            java.util.Map.of(
                "SPRING_TEMPORAL_CONNECTION_MTLS_CERTCHAINFILE", "/nonexistent/client.pem",
                "SPRING_TEMPORAL_CONNECTION_MTLS_KEYFILE", "/nonexistent/client.key"),
            new java.io.PrintStream(new java.io.ByteArrayOutputStream(), true),
            new java.io.PrintStream(err, true, java.nio.charset.StandardCharsets.UTF_8));
    assertThat(exit).isEqualTo(1);
    assertThat(err.toString(java.nio.charset.StandardCharsets.UTF_8))
        .startsWith("the mTLS certificate chain /nonexistent/client.pem and key")
        .contains("no such file");
    assertThat(
            OpsCommand.run(
                new String[] {"ops", "leases"},
                java.util.Map.of("SPRING_TEMPORAL_CONNECTION_MTLS_KEYFILE", "/k.key"),
                new java.io.PrintStream(new java.io.ByteArrayOutputStream(), true),
                new java.io.PrintStream(new java.io.ByteArrayOutputStream(), true)))
        .isEqualTo(1);
  }

  @Test
  void encryptionKeysThatAreNotUsableAreNamedNotShown() {
    assertThat(OpsCommand.dataConverter(java.util.Map.of()))
        .isSameAs(io.tempera.codec.TemperaDataConverter.standard());
    java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
    int exit =
        OpsCommand.run(
            new String[] {"ops", "leases"},
            java.util.Map.of(
                "TEMPERA_ENCRYPTION_ENABLED", "true",
                "TEMPERA_ENCRYPTION_CURRENT_KEY_ID", "k1",
                "TEMPERA_ENCRYPTION_KEYS_K1", "c2hvcnQ="),
            new java.io.PrintStream(new java.io.ByteArrayOutputStream(), true),
            new java.io.PrintStream(err, true, java.nio.charset.StandardCharsets.UTF_8));
    assertThat(exit).isEqualTo(1);
    assertThat(err.toString(java.nio.charset.StandardCharsets.UTF_8))
        .startsWith("TEMPERA_ENCRYPTION_ENABLED is true but its keys are not usable:")
        .contains("'k1'")
        .doesNotContain("c2hvcnQ=");
    String key = java.util.Base64.getEncoder().encodeToString(new byte[32]);
    assertThat(
            OpsCommand.dataConverter(
                java.util.Map.of(
                    "TEMPERA_ENCRYPTION_ENABLED", "true",
                    "TEMPERA_ENCRYPTION_CURRENT_KEY_ID", "k1",
                    "TEMPERA_ENCRYPTION_KEYS_K1", key)))
        .isNotSameAs(io.tempera.codec.TemperaDataConverter.standard());
  }

  @Test
  void theListQueryNamesTheTemperaSearchAttributes() {
    OpsCommand.Invocation invocation =
        OpsCommand.parse(
            List.of(
                "list",
                "--status",
                "failed",
                "--tier",
                "premium",
                "--project",
                "demo",
                "--function=upscale"));
    assertThat(Operations.filter(invocation).query())
        .isEqualTo(
            "WorkflowType = 'GenerationWorkflow' AND ExecutionStatus IN ('Failed', 'Terminated',"
                + " 'TimedOut') AND TemperaTier = 'ultra' AND TemperaProject = 'demo' AND"
                + " TemperaFunction = 'upscale'");
    assertThat(Operations.filter(OpsCommand.parse(List.of("list", "--status", "queued"))).query())
        .isEqualTo(
            "WorkflowType = 'GenerationWorkflow' AND ExecutionStatus = 'Running' AND TemperaStatus"
                + " = 'QUEUED'");
  }

  @Test
  void listsGenerationsByStatusProjectAndTier() {
    String ok = system.start("ok-1", "invert", "standard", "demo");
    assertThat(endOf(ok).status()).isEqualTo(GenerationStatus.SUCCEEDED);
    String bad = failed("bad-1");
    String other = system.start("other-1", "invert", "draft", "other");
    endOf(other);

    OpsFixture.Ran all = system.ops("list");
    assertThat(all.exit()).isZero();
    assertThat(all.out()).startsWith("GENERATION").contains(ok).contains(bad).contains(other);
    assertThat(all.err()).contains("3 generations");

    OpsFixture.Ran failures = system.ops("list", "--status", "failed");
    assertThat(failures.out()).contains(bad).doesNotContain(ok).doesNotContain(other);
    assertThat(failures.out().lines().filter(l -> l.startsWith(bad)).findFirst().orElseThrow())
        .contains("FAILED")
        .contains("invert")
        .contains("high")
        .contains("demo");

    assertThat(system.ops("list", "--project", "other").out())
        .contains(other)
        .doesNotContain(ok)
        .doesNotContain(bad);
    assertThat(system.ops("list", "--tier", "standard", "--status", "succeeded").out())
        .contains(ok)
        .doesNotContain(bad)
        .doesNotContain(other);
    OpsFixture.Ran one = system.ops("list", "--limit", "1");
    assertThat(one.out().lines().count()).isEqualTo(2);
    assertThat(one.err()).contains("1 generation (the newest 1; --limit shows more)");
  }

  @Test
  void showsAFailedGenerationsPhasesStepsHostAndError() {
    String id = failed("show-1");

    OpsFixture.Ran shown = system.ops("show", id);

    assertThat(shown.exit()).isZero();
    assertThat(shown.out())
        .startsWith(id + "  FAILED  (workflow Failed)")
        .contains("summary     invert · High · project demo")
        .contains("function    invert 1.0.0")
        .contains("project     demo, node n1")
        .contains("tier        asked high, ran at high")
        .contains("error       EXECUTION_ERROR: Node 3 failed")
        .contains("steps:")
        .contains("Lease a slot (High)")
        .contains("Run invert (High) on comfyui on h1, GPU 0");
    String run =
        shown.out().lines().filter(l -> l.contains("Run invert")).findFirst().orElseThrow();
    assertThat(run)
        .contains(" h1 ")
        .containsPattern("1 attempt, failed after [0-9.]+ s: EXECUTION_ERROR Node 3 failed");
  }

  @Test
  void showsWhatASucceededGenerationMade() {
    String id = system.start("made-1", "invert", "standard", "demo");
    endOf(id);
    assertThat(system.ops("show", id).out())
        .contains("SUCCEEDED")
        .contains("output      " + id + "_a.png  image/png, 68 bytes, 8×8")
        .contains("Collect 1 output on h1");
  }

  @Test
  void aGenerationThatIsNotThereIsExit1() {
    OpsFixture.Ran missing = system.ops("show", "gen-nope");
    assertThat(missing.exit()).isEqualTo(1);
    assertThat(missing.err()).isEqualTo("there is no generation gen-nope\n");
    assertThat(system.ops("cancel", "gen-nope").exit()).isEqualTo(1);
    assertThat(system.ops("retry", "gen-nope").exit()).isEqualTo(1);
    OpsFixture.Ran allocator = system.ops("show", SlotAllocatorWorkflow.idFor("default"));
    assertThat(allocator.exit()).isEqualTo(1);
    assertThat(allocator.err())
        .contains("is no generation (its workflow is a SlotAllocatorWorkflow)");
  }

  @Test
  void retriesAFailedGenerationWithTheSameRequestUnderANewId() throws Exception {
    String id = failed("retry-me");

    OpsFixture.Ran retried = system.ops("retry", id);

    assertThat(retried.exit()).isZero();
    String newId = retried.out().strip();
    assertThat(newId).startsWith("gen-").isNotEqualTo(id);
    assertThat(retried.err()).contains("started " + newId).contains("with the parameters of " + id);
    GenerationResult again = endOf(newId);
    assertThat(again.status()).isEqualTo(GenerationStatus.SUCCEEDED);
    GenerationRequest first = requestOf(id);
    GenerationRequest second = requestOf(newId);
    assertThat(second.functionId()).isEqualTo(first.functionId());
    assertThat(second.tier()).isEqualTo(first.tier());
    assertThat(second.parameters()).isEqualTo(first.parameters());
    assertThat(second.projectId()).isEqualTo("demo");
    assertThat(second.nodeId()).isEqualTo(first.nodeId());
    assertThat(second.requestId()).isNotEqualTo(first.requestId()).startsWith("retry-");
    assertThat(system.client.newUntypedWorkflowStub(newId).describe().getTaskQueue())
        .isEqualTo("tempera-generations-high");
  }

  private GenerationRequest requestOf(String id) {
    var input =
        system
            .client
            .fetchHistory(id)
            .getEvents()
            .get(0)
            .getWorkflowExecutionStartedEventAttributes()
            .getInput();
    return DefaultDataConverter.STANDARD_INSTANCE.fromPayloads(
        0, Optional.of(input), GenerationRequest.class, GenerationRequest.class);
  }

  @Test
  void cancelsARunningGenerationAndRefusesOneThatEnded() {
    system.holdRuns();
    String id = system.start("cancel-me", "invert", "standard", "demo");
    await().atMost(Duration.ofSeconds(20)).until(() -> system.pool().leases().size() == 1);
    assertThat(system.ops("retry", id).err()).contains(id + " is still running");

    OpsFixture.Ran cancelled = system.ops("cancel", id, "--reason", "stuck on a bad node");

    assertThat(cancelled.exit()).isZero();
    assertThat(endOf(id).status()).isEqualTo(GenerationStatus.CANCELLED);
    assertThat(endOf(id).error().message()).contains("stuck on a bad node");
    OpsFixture.Ran again = system.ops("cancel", id);
    assertThat(again.exit()).isEqualTo(1);
    assertThat(again.err()).contains("has ended already (CANCELLED)");
  }

  @Test
  void usageShowsEachProjectsRunningQueuedAndGpuSecondsByNameOrKey() {
    system.holdRuns();
    system.start("u1", "invert", "standard", "demo");
    system.start("u2", "invert", "standard", "demo");
    system.start("u3", "invert", "standard", "demo");
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> system.pool().leases().size() == 2 && system.pool().waiters().size() == 1);
    system.start("u4", "invert", "standard", "unnamed"); // after demo's: in line behind them
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> system.pool().leases().size() == 2 && system.pool().waiters().size() == 2);

    OpsFixture.Ran usage = system.ops("usage", "--project", "demo");

    assertThat(usage.exit()).as(usage.err()).isZero();
    assertThat(usage.out())
        .contains("pool default: 2 slots, 2 leases, 2 waiting; no lease measured yet")
        .containsPattern("demo +" + io.tempera.quotas.Quotas.keyOf("demo") + " +2 +1 +\\d+")
        .containsPattern("\\? +" + io.tempera.quotas.Quotas.keyOf("unnamed") + " +0 +1 +0");
    assertThat(system.ops("usage", "--pool", "gpu-farm").exit()).isEqualTo(1);
  }

  @Test
  void drainsAndUndrainsAHostListsLeasesAndFreesAStuckOne() {
    system.holdRuns();
    String running = system.start("holds-1", "invert", "standard", "demo");
    await().atMost(Duration.ofSeconds(20)).until(() -> system.pool().leases().size() == 1);
    Lease lease = system.pool().leases().get(0);

    OpsFixture.Ran leases = system.ops("leases");
    assertThat(leases.exit()).isZero();
    assertThat(leases.out())
        .contains("pool default (tempera-slots-default): 1 hosts, 1 leases, 0 waiting")
        .containsPattern("h1 +ok +1/2 +2 +0:24000")
        .contains(lease.leaseId())
        .contains(running);

    OpsFixture.Ran drained = system.ops("drain", "h1", "--reason", "driver update");
    assertThat(drained.exit()).isZero();
    assertThat(drained.err())
        .contains("drained host h1 of pool default: no new lease goes there; 1 lease(s) still run");
    assertThat(system.pool().drainedHosts()).containsExactly("h1");
    assertThat(system.ops("leases").out()).containsPattern("h1 +drained +1/2");
    // a new generation waits: the host has a free slot, but it is drained
    String waiting = system.start("waits-1", "invert", "high", "demo");
    await().atMost(Duration.ofSeconds(20)).until(() -> system.pool().waiters().size() == 1);
    // its priority (none asked: normal) and project, by which the line is ordered
    assertThat(system.ops("leases").out())
        .containsPattern("1 +" + waiting + " +invert +high +normal +demo");
    assertThat(system.ops("list", "--host", "h1").out()).contains(running).doesNotContain(waiting);

    OpsFixture.Ran unknownHost = system.ops("drain", "h9");
    assertThat(unknownHost.exit()).isEqualTo(1);
    assertThat(unknownHost.err()).isEqualTo("pool default has no host h9 (its hosts: h1)\n");

    OpsFixture.Ran undrained = system.ops("undrain", "h1");
    assertThat(undrained.exit()).isZero();
    assertThat(undrained.err()).contains("host h1 of pool default takes leases again");
    await().atMost(Duration.ofSeconds(20)).until(() -> system.pool().leases().size() == 2);
    assertThat(system.pool().drainedHosts()).isEmpty();

    OpsFixture.Ran freed = system.ops("free", lease.leaseId());
    assertThat(freed.exit()).isZero();
    assertThat(freed.err())
        .contains("warning: " + running + " is still running")
        .contains("freed lease " + lease.leaseId() + " (" + running + " on h1)");
    assertThat(system.pool().leases()).extracting(Lease::holder).doesNotContain(running);
    OpsFixture.Ran notThere = system.ops("free", lease.leaseId());
    assertThat(notThere.exit()).isEqualTo(1);
    assertThat(notThere.err()).contains("pool default has no lease " + lease.leaseId());

    OpsFixture.Ran noPool = system.ops("leases", "--pool", "gpu-farm");
    assertThat(noPool.exit()).isEqualTo(1);
    assertThat(noPool.err()).contains("there is no slot pool gpu-farm");
  }
}
