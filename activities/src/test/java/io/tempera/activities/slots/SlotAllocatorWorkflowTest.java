package io.tempera.activities.slots;

import static org.assertj.core.api.Assertions.assertThat;

import io.tempera.slots.*;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowOptions;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.worker.Worker;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The slot allocator against real holder workflows, on the in-process test server. */
class SlotAllocatorWorkflowTest {

  private static final String POOL = "test";
  private TestWorkflowEnvironment env;
  private WorkflowClient client;
  private SlotAllocatorClient slots;

  /** Where the allocator publishes the places in line (since places-by-progress-bus). */
  private final io.tempera.progress.InProcessProgressBus bus =
      new io.tempera.progress.InProcessProgressBus();

  /** While set, the allocator's publication of places waits for it to open. */
  private final java.util.concurrent.atomic.AtomicReference<java.util.concurrent.CountDownLatch>
      publishing = new java.util.concurrent.atomic.AtomicReference<>();

  private final java.util.concurrent.atomic.AtomicBoolean published =
      new java.util.concurrent.atomic.AtomicBoolean();

  /** The allocator's bus: {@link #bus}, whose publications can be held up. */
  private final io.tempera.progress.ProgressBus gatedBus =
      new io.tempera.progress.ProgressBus() {
        @Override
        public io.tempera.progress.ProgressEvent publish(io.tempera.progress.ProgressEvent event) {
          java.util.concurrent.CountDownLatch gate = publishing.getAndSet(null);
          if (gate != null) {
            published.set(true);
            try {
              gate.await(20, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }
          return bus.publish(event);
        }

        @Override
        public void publishEnd(String generationId) {
          bus.publishEnd(generationId);
        }

        @Override
        public boolean carriesEnds() {
          return bus.carriesEnds();
        }

        @Override
        public void endsPublishedHere() {
          bus.endsPublishedHere();
        }

        @Override
        public java.util.Optional<io.tempera.progress.ProgressEvent> latest(String generationId) {
          return bus.latest(generationId);
        }

        @Override
        public AutoCloseable subscribe(
            String generationId,
            java.util.function.Consumer<io.tempera.progress.ProgressEvent> listener) {
          return bus.subscribe(generationId, listener);
        }
      };

  @BeforeEach
  void setUp() {
    env = TestWorkflowEnvironment.newInstance();
    client = env.getWorkflowClient();
    io.tempera.activities.GenerationActivitySet.registerAllocator(
        env.getWorkerFactory(), client, gatedBus);
    Worker holders = env.newWorker("holders");
    holders.registerWorkflowImplementationTypes(HolderWorkflow.Impl.class);
    slots = new SlotAllocatorClient(client, AllocatorSettings.withoutHostLiveness());
    holders.registerActivitiesImplementations((HolderWorkflow.Requests) slots::requestLease);
    env.start();
  }

  @AfterEach
  void tearDown() {
    env.close();
  }

  private void host(String id, int maxLeases, Gpu... gpus) {
    slots.registerHost(
        POOL,
        new HostRegistration(id, HostRegistration.taskQueueFor(id), List.of(gpus), maxLeases));
  }

  private HolderWorkflow hold(String id, int vramMb) {
    HolderWorkflow holder =
        client.newWorkflowStub(
            HolderWorkflow.class,
            WorkflowOptions.newBuilder().setTaskQueue("holders").setWorkflowId(id).build());
    WorkflowClient.start(holder::hold, POOL, vramMb);
    return holder;
  }

  /** A waiter's place as its followers see it: the latest the allocator published (0: none). */
  private int place(String holder) {
    return bus.latest(holder).map(e -> e.queuePosition() == null ? 0 : e.queuePosition()).orElse(0);
  }

  private static void eventually(String what, Supplier<Boolean> condition) {
    org.awaitility.Awaitility.await(what).atMost(Duration.ofSeconds(20)).until(condition::get);
  }

  private void finish(String id) {
    client.newWorkflowStub(HolderWorkflow.class, id).finish();
    client.newUntypedWorkflowStub(id).getResult(String.class);
  }

  private void assertNothingHeld() throws InterruptedException {
    eventually(
        "no lease and no waiter is left",
        () -> slots.state(POOL).leases().isEmpty() && slots.state(POOL).waiters().isEmpty());
  }

  @Test
  void aFinishedRunGivesItsSlotBackByHostWhateverTheLeaseIdSays() throws Exception {
    host("h1", 1, new Gpu(0, 8_000));
    host("h2", 1, new Gpu(0, 8_000));
    HolderWorkflow a = hold("gen-a", 1_000);
    eventually("a holds the slot on h1", () -> a.lease() != null);
    Lease held = a.lease();
    // a release for another host leaves the lease alone
    slots.release(
        new Lease("other", POOL, "gen-a", "h2", HostRegistration.taskQueueFor("h2"), 0, 0), "x");
    HolderWorkflow b = hold("gen-b", 1_000);
    eventually("b holds the slot on h2", () -> b.lease() != null);
    assertThat(slots.state(POOL).leases()).hasSize(2);
    // the run's release names the lease's host: matched by it, not by the id (a replay may number
    // leases otherwise)
    slots.release(
        new Lease(
            held.leaseId() + "-renumbered",
            POOL,
            "gen-a",
            "h1",
            held.taskQueue(),
            held.gpuIndex(),
            held.vramMb()),
        "the run finished on the backend");
    eventually(
        "a's lease is given back, b's kept",
        () ->
            slots.state(POOL).leases().stream()
                .map(Lease::holder)
                .toList()
                .equals(List.of("gen-b")));
    finish("gen-a");
    finish("gen-b");
    assertNothingHeld();
  }

  @Test
  void holdersCompetingForOneSlotWaitInOrderAndSeeTheirPlace() throws Exception {
    host("h1", 1, new Gpu(0, 8_000));
    HolderWorkflow a = hold("gen-a", 1_000);
    eventually("a holds the slot", () -> a.lease() != null);
    HolderWorkflow b = hold("gen-b", 1_000);
    eventually("b waits first", () -> b.position() == 1);
    HolderWorkflow c = hold("gen-c", 1_000);
    eventually("c waits second", () -> c.position() == 2);
    assertThat(b.lease()).isNull();
    assertThat(slots.state(POOL).waiters())
        .extracting(w -> w.request().holder())
        .containsExactly("gen-b", "gen-c");

    finish("gen-a");
    eventually("b gets the slot", () -> b.lease() != null);
    eventually("c moves up", () -> place("gen-c") == 1);
    assertThat(c.position())
        .as("told by the progress bus, not by a signal per waiter")
        .isEqualTo(2);
    assertThat(c.lease()).isNull();
    assertThat(b.lease().taskQueue()).isEqualTo("tempera-host-h1");

    finish("gen-b");
    eventually("c gets the slot", () -> c.lease() != null);
    finish("gen-c");
    assertNothingHeld();
  }

  @Test
  void askingAgainGivesTheSameLeaseNeverASecondOne() {
    host("h1", 2, new Gpu(0, 8_000));
    LeaseAnswer first = slots.requestLease(POOL, new LeaseRequest("gen-x", 4_000, "f", "standard"));
    LeaseAnswer again = slots.requestLease(POOL, new LeaseRequest("gen-x", 4_000, "f", "standard"));

    assertThat(first.granted()).isTrue();
    assertThat(again.lease()).isEqualTo(first.lease());
    assertThat(slots.state(POOL).leases()).hasSize(1);
    LeaseAnswer other = slots.requestLease(POOL, new LeaseRequest("gen-y", 4_000, "f", "standard"));
    assertThat(other.granted()).isTrue();
    assertThat(
            slots.requestLease(POOL, new LeaseRequest("gen-z", 1, "f", "standard")).queuePosition())
        .isEqualTo(1);
    assertThat(
            slots.requestLease(POOL, new LeaseRequest("gen-z", 1, "f", "standard")).queuePosition())
        .isEqualTo(1);
    assertThat(slots.state(POOL).waiters()).hasSize(1);
  }

  /**
   * A lease request and the releases that free a slot for it, in one workflow task of the
   * allocator: the request is answered once every handler of the task has run, so it is granted in
   * its answer whichever order the SDK delivers them in. Answered by its handler at once, it was
   * queued or granted by that order, which a full replay did not always reproduce (the replay
   * granted where the run had queued, and the allocator stalled for good). Its history replays.
   */
  @Test
  void aRequestThatComesWithTheReleaseOfItsSlotIsGrantedInItsAnswer() throws Exception {
    host("h1", 1, new Gpu(0, 8_000));
    HolderWorkflow a = hold("gen-a", 0);
    eventually("a holds the slot", () -> a.lease() != null);
    HolderWorkflow w1 = hold("gen-w1", 0);
    eventually("w1 waits first", () -> w1.position() == 1);
    HolderWorkflow w2 = hold("gen-w2", 0);
    eventually("w2 waits second", () -> w2.position() == 2);
    // a's slot goes to w1 and w2 moves up: the allocator's task stays open while it publishes
    // w2's new place, and what comes meanwhile reaches it in one task
    java.util.concurrent.CountDownLatch open = new java.util.concurrent.CountDownLatch(1);
    publishing.set(open);
    finish("gen-a");
    eventually("the allocator publishes w2's new place", published::get);
    java.util.concurrent.CompletableFuture<LeaseAnswer> asked =
        java.util.concurrent.CompletableFuture.supplyAsync(
            () -> slots.requestLease(POOL, new LeaseRequest("gen-b", 0, "f", "standard")));
    // the request first: a handler answering at once queued it behind w2
    Thread.sleep(300);
    SlotAllocatorWorkflow allocator =
        client.newWorkflowStub(SlotAllocatorWorkflow.class, SlotAllocatorWorkflow.idFor(POOL));
    allocator.release(new LeaseRelease("gen-w2", null, "cancelled while waiting"));
    allocator.release(new LeaseRelease("gen-w1", null, "its run finished"));
    open.countDown();

    LeaseAnswer answer = asked.get(20, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(answer.granted()).as("granted in its answer, not queued").isTrue();
    assertThat(slots.state(POOL).leases()).extracting(Lease::holder).containsExactly("gen-b");
    assertThat(slots.state(POOL).waiters()).isEmpty();
    io.temporal.testing.WorkflowReplayer.replayWorkflowExecution(
        client.fetchHistory(SlotAllocatorWorkflow.idFor(POOL)),
        io.tempera.slots.SlotAllocatorWorkflowImpl.class);
  }

  /**
   * Leases asked for and given back from 8 threads at once while the allocator continues as new
   * every few dozen events: every release lands (by Update, or by signal when the Update came
   * during a hand-over), nothing is left held and every run of the allocator replays.
   */
  @Test
  void releasesLandWhileTheAllocatorKeepsContinuingAsNew() throws Exception {
    SlotAllocatorClient often = new SlotAllocatorClient(client, new AllocatorSettings(30, 40, -1));
    often.registerHost(
        "busy",
        new HostRegistration("h1", HostRegistration.taskQueueFor("h1"), List.of(new Gpu(0, 0)), 8));
    String firstRun = currentRun("busy");
    java.util.concurrent.ExecutorService threads =
        java.util.concurrent.Executors.newFixedThreadPool(8);
    List<java.util.concurrent.Future<Integer>> done = new java.util.ArrayList<>();
    for (int t = 0; t < 8; t++) {
      int thread = t;
      done.add(
          threads.submit(() -> {
            int granted = 0;
            for (int i = 0; i < 15; i++) {
              LeaseAnswer answer =
                  often.requestLease(
                      "busy", new LeaseRequest("gen-" + thread + "-" + i, 0, "f", "standard"));
              if (answer.granted()) {
                granted++;
                assertThat(often.release(answer.lease(), "done")).isTrue();
              }
            }
            return granted;
          }));
    }
    int granted = 0;
    for (var f : done) {
      granted += f.get(120, java.util.concurrent.TimeUnit.SECONDS);
    }
    threads.shutdown();
    assertThat(granted).as("most requests find a slot at once").isPositive();
    eventually(
        "nothing is left held or waiting (a queued request's holder is gone: its grant releases)",
        () -> often.state("busy").leases().isEmpty() && often.state("busy").waiters().isEmpty());
    // every run since the first replays, and there were several
    assertThat(everyRunReplayed("busy", firstRun))
        .as("the allocator continued as new")
        .hasSizeGreaterThan(3);
  }

  /** The run of a pool's allocator that is current now. */
  private String currentRun(String pool) {
    return client
        .newUntypedWorkflowStub(SlotAllocatorWorkflow.idFor(pool))
        .describe()
        .getExecution()
        .getRunId();
  }

  /** The histories of a pool's allocator from {@code firstRun} on, each replayed. */
  private List<io.temporal.common.WorkflowExecutionHistory> everyRunReplayed(
      String pool, String firstRun) throws Exception {
    List<io.temporal.common.WorkflowExecutionHistory> runs = new java.util.ArrayList<>();
    String run = firstRun;
    while (run != null) {
      var history = client.fetchHistory(SlotAllocatorWorkflow.idFor(pool), run);
      io.temporal.testing.WorkflowReplayer.replayWorkflowExecution(
          history, io.tempera.slots.SlotAllocatorWorkflowImpl.class);
      runs.add(history);
      var last = history.getLastEvent();
      run =
          last.hasWorkflowExecutionContinuedAsNewEventAttributes()
              ? last.getWorkflowExecutionContinuedAsNewEventAttributes().getNewExecutionRunId()
              : null;
    }
    return runs;
  }

  /**
   * Requests that never stop (8 callers, each asking again as soon as it is answered; a third of
   * them wait in line and their holders are gone, so each grant's signal fails and releases) while
   * the allocator should continue as new every 100 events: every run still hands over within a
   * bounded history (new requests wait for the next run during the hand-over instead of keeping
   * this one alive), every request is answered and every run replays.
   */
  @Test
  void aStreamOfRequestsThatNeverPausesStillLetsEachRunHandOver() throws Exception {
    int maxHistory = 100;
    SlotAllocatorClient often =
        new SlotAllocatorClient(client, new AllocatorSettings(30, maxHistory, -1));
    often.registerHost(
        "stream",
        new HostRegistration("h1", HostRegistration.taskQueueFor("h1"), List.of(new Gpu(0, 0)), 2));
    String firstRun = currentRun("stream");
    java.util.concurrent.ExecutorService threads =
        java.util.concurrent.Executors.newFixedThreadPool(8);
    java.util.concurrent.atomic.AtomicInteger answered =
        new java.util.concurrent.atomic.AtomicInteger();
    List<java.util.concurrent.Future<?>> done = new java.util.ArrayList<>();
    int perThread = 40;
    for (int t = 0; t < 8; t++) {
      int thread = t;
      done.add(
          threads.submit(() -> {
            for (int i = 0; i < perThread; i++) {
              LeaseAnswer answer =
                  often.requestLease(
                      "stream", new LeaseRequest("gone-" + thread + "-" + i, 0, "f", "standard"));
              answered.incrementAndGet();
              if (answer.granted()) {
                often.release(answer.lease(), "done");
              }
            }
            return null;
          }));
    }
    for (var f : done) {
      f.get(300, java.util.concurrent.TimeUnit.SECONDS);
    }
    threads.shutdown();
    assertThat(answered.get()).isEqualTo(8 * perThread);
    eventually(
        "nothing is left held or waiting",
        () ->
            often.state("stream").leases().isEmpty() && often.state("stream").waiters().isEmpty());
    var runs = everyRunReplayed("stream", firstRun);
    java.nio.file.Path recorded =
        java.nio.file.Path.of("src/test/resources/histories/slot-allocator-hand-over.json");
    if (Boolean.getBoolean("tempera.record-histories") && !java.nio.file.Files.exists(recorded)) {
      // committed for GenerationReplayTest: a run that handed over under a stream of requests
      java.nio.file.Files.writeString(recorded, runs.getFirst().toJson(true));
    }
    List<Long> lengths = runs.stream().map(h -> h.getLastEvent().getEventId()).toList();
    System.out.println("allocator runs' history lengths: " + lengths);
    assertThat(lengths.size()).as("runs").isGreaterThan(3);
    assertThat(lengths.subList(0, lengths.size() - 1))
        .as("each run hands over soon after %d events", maxHistory)
        .allMatch(n -> n <= 2L * maxHistory);
  }

  @Test
  void leasesAreFittedAcrossTwoVirtualGpusByMemoryInFifoOrder() throws Exception {
    host("h1", 10, new Gpu(0, 8_000), new Gpu(1, 16_000));
    HolderWorkflow small = hold("gen-6g", 6_000);
    eventually("6 GB on gpu 0", () -> small.lease() != null);
    assertThat(small.lease().gpuIndex()).isZero();
    HolderWorkflow big = hold("gen-10g", 10_000);
    eventually("10 GB on gpu 1", () -> big.lease() != null);
    assertThat(big.lease().gpuIndex()).isEqualTo(1);
    HolderWorkflow four = hold("gen-4g", 4_000);
    eventually("4 GB fits only on gpu 1", () -> four.lease() != null);
    assertThat(four.lease().gpuIndex()).isEqualTo(1);
    HolderWorkflow seven = hold("gen-7g", 7_000);
    eventually("7 GB waits", () -> seven.position() == 1);
    HolderWorkflow two = hold("gen-2g", 2_000);
    eventually("2 GB waits behind it (FIFO), though it would fit", () -> two.position() == 2);

    finish("gen-10g");
    eventually("7 GB gets gpu 1", () -> seven.lease() != null);
    assertThat(seven.lease().gpuIndex()).isEqualTo(1);
    eventually("then 2 GB gets gpu 0", () -> two.lease() != null);
    assertThat(two.lease().gpuIndex()).isZero();

    for (String id : List.of("gen-6g", "gen-4g", "gen-7g", "gen-2g")) {
      finish(id);
    }
    assertNothingHeld();
  }

  @Test
  void aMalformedRequestIsRejectedByTheValidatorAndChangesNothing() {
    host("h1", 1, new Gpu(0, 8_000));
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> slots.requestLease(POOL, new LeaseRequest(" ", 10, "f", "standard")))
        .isInstanceOf(io.temporal.client.WorkflowUpdateException.class)
        .cause()
        .isInstanceOfSatisfying(
            io.temporal.failure.ApplicationFailure.class,
            app -> {
              assertThat(app.getType()).isEqualTo(IllegalArgumentException.class.getName());
              assertThat(app.getOriginalMessage()).contains("needs a holder");
            });
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> slots.requestLease(POOL, new LeaseRequest("gen-neg", -1, "f", "standard")))
        .isInstanceOf(io.temporal.client.WorkflowUpdateException.class);
    assertThat(slots.state(POOL).leases()).isEmpty();
    assertThat(slots.state(POOL).waiters()).isEmpty();
  }

  @Test
  void aRequestNoGpuOfThePoolCanHoldIsRejected() {
    host("h1", 1, new Gpu(0, 8_000));
    LeaseAnswer answer =
        slots.requestLease(POOL, new LeaseRequest("gen-huge", 40_000, "f", "ultra"));
    assertThat(answer.granted()).isFalse();
    assertThat(answer.rejection()).contains("40000 MB").contains("8000 MB");
    assertThat(slots.state(POOL).waiters()).isEmpty();
  }

  @Test
  void aWaiterNoGpuCanHoldAnyMoreIsToldSoAndLeavesTheQueue() throws Exception {
    host("h1", 4, new Gpu(0, 16_000));
    HolderWorkflow a = hold("gen-a", 10_000);
    eventually("a holds", () -> a.lease() != null);
    hold("gen-b", 12_000);
    eventually("b waits", () -> slots.state(POOL).waiters().size() == 1);

    host("h1", 4, new Gpu(0, 8_000)); // the host came back with a smaller GPU
    String b = client.newUntypedWorkflowStub("gen-b").getResult(String.class);
    assertThat(b)
        .isEqualTo(
            "rejected: This generation needs 12000 MB of GPU memory; the largest GPU of pool test has 8000 MB");
    assertThat(slots.state(POOL).waiters()).isEmpty();
    finish("gen-a");
    assertNothingHeld();
  }

  @Test
  void cancellingAWaiterTakesItOutOfTheQueue() throws Exception {
    host("h1", 1, new Gpu(0, 8_000));
    HolderWorkflow a = hold("gen-a", 0);
    eventually("a holds", () -> a.lease() != null);
    HolderWorkflow b = hold("gen-b", 0);
    eventually("b waits first", () -> b.position() == 1);
    HolderWorkflow c = hold("gen-c", 0);
    eventually("c waits second", () -> c.position() == 2);

    client.newUntypedWorkflowStub("gen-b").cancel();
    eventually("c moves up when b leaves", () -> place("gen-c") == 1);
    finish("gen-a");
    eventually("c gets the slot", () -> c.lease() != null);
    finish("gen-c");
    assertNothingHeld();
  }

  @Test
  void theLeaseOfATerminatedHolderIsReclaimed() throws Exception {
    host("h1", 1, new Gpu(0, 8_000));
    HolderWorkflow a = hold("gen-a", 0);
    eventually("a holds", () -> a.lease() != null);
    HolderWorkflow b = hold("gen-b", 0);
    eventually("b waits", () -> b.position() == 1);

    // terminated: its finally (the release) never runs
    client.newUntypedWorkflowStub("gen-a").terminate("operator");
    env.sleep(Duration.ofSeconds(40)); // past the reclaim interval
    eventually("b gets a's reclaimed slot", () -> b.lease() != null);
    assertThat(slots.state(POOL).leases()).extracting(Lease::holder).containsExactly("gen-b");
    finish("gen-b");
    assertNothingHeld();
  }

  @Test
  void aReRegisteredHostKeepsItsLeasesAndOffersItsNewGpus() throws Exception {
    host("h1", 4, new Gpu(0, 8_000));
    HolderWorkflow a = hold("gen-a", 6_000);
    eventually("a holds", () -> a.lease() != null);
    HolderWorkflow b = hold("gen-b", 6_000);
    eventually("b waits", () -> b.position() == 1);

    host("h1", 4, new Gpu(0, 8_000), new Gpu(1, 8_000)); // the worker restarted with a second GPU
    eventually("b gets the new gpu", () -> b.lease() != null);
    assertThat(b.lease().gpuIndex()).isEqualTo(1);
    assertThat(slots.state(POOL).hosts()).hasSize(1);
    assertThat(slots.state(POOL).leases())
        .extracting(Lease::holder)
        .containsExactlyInAnyOrder("gen-a", "gen-b");
    finish("gen-a");
    finish("gen-b");
    assertNothingHeld();
  }

  @Test
  void continuingAsNewKeepsLeasesAndWaiters() throws Exception {
    slots = new SlotAllocatorClient(client, new AllocatorSettings(30, 40, -1));
    host("h1", 1, new Gpu(0, 8_000));
    HolderWorkflow a = hold("gen-a", 0);
    eventually("a holds", () -> a.lease() != null);
    HolderWorkflow b = hold("gen-b", 0);
    eventually("b waits", () -> b.position() == 1);
    String firstRun = currentRun(POOL);
    for (int i = 0; i < 30; i++) { // each registration adds history events
      host("h1", 1, new Gpu(0, 8_000));
    }
    eventually("the allocator continued as new", () -> !currentRun(POOL).equals(firstRun));

    AllocatorState state = slots.state(POOL);
    assertThat(state.leases()).extracting(Lease::holder).containsExactly("gen-a");
    assertThat(state.waiters()).extracting(w -> w.request().holder()).containsExactly("gen-b");
    finish("gen-a");
    eventually("b gets the slot from the new run", () -> b.lease() != null);
    finish("gen-b");
    assertNothingHeld();
  }
}
