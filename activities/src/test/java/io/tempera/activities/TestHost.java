package io.tempera.activities;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tempera.activities.planning.PlanningActivitiesImpl;
import io.tempera.activities.slots.SlotAllocatorClient;
import io.tempera.backend.BackendRegistry;
import io.tempera.containers.ModelHost;
import io.tempera.containers.ModelLookup;
import io.tempera.generation.BackendActivities;
import io.tempera.generation.GenerationEnds;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationWorkflow;
import io.tempera.generation.PlanningActivities;
import io.tempera.outputs.OutputStore;
import io.tempera.progress.ProgressBus;
import io.tempera.slots.AllocatorSettings;
import io.tempera.slots.AllocatorState;
import io.tempera.slots.Gpu;
import io.tempera.slots.HostRegistration;
import io.tempera.template.TemplateRegistry;
import io.tempera.template.TemplateTranslator;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowFailedException;
import io.temporal.client.WorkflowOptions;
import io.temporal.client.WorkflowStub;
import io.temporal.testing.TestEnvironmentOptions;
import io.temporal.testing.TestWorkflowEnvironment;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * One worker host with the real activities on an in-process Temporal test server, as a worker host
 * runs them: generations start on {@link GenerationWorkflow#TASK_QUEUE} (and each tier's queue),
 * lease from pool {@link #POOL}'s allocator, and run their later steps on the host's own queue.
 *
 * <p>{@link #builder} sets what a test needs beyond the defaults: a model host, the host's slots
 * and VRAM, another model registry, real time instead of the test server's skipped time, and a
 * test's own wrapper around the planning or the backend-run activities (to script a fault or a
 * model).
 */
public final class TestHost implements AutoCloseable {

  public static final String POOL = "test";
  public static final String HOST_ID = "test-host";
  public static final String HOST_QUEUE = HostRegistration.taskQueueFor(HOST_ID);

  /** The queues generations start on: the default one and each tier's. */
  public static final List<String> GENERATION_QUEUES =
      List.of(
          GenerationWorkflow.TASK_QUEUE,
          GenerationWorkflow.taskQueueFor("draft"),
          GenerationWorkflow.taskQueueFor("standard"),
          GenerationWorkflow.taskQueueFor("high"),
          GenerationWorkflow.taskQueueFor("ultra"));

  public final TestWorkflowEnvironment env;
  public final WorkflowClient client;
  public final SlotAllocatorClient allocator;
  public final GenerationActivitySet activities;
  public final MeterRegistry metrics = new SimpleMeterRegistry();

  /**
   * A host with {@code slots} slots on one GPU of {@code vramMb}; {@code modelHost} null runs no
   * containers.
   */
  public TestHost(
      TemplateRegistry templates,
      BackendRegistry backends,
      OutputStore outputs,
      ProgressBus progress,
      ModelHost modelHost,
      int slots,
      int vramMb) {
    this(
        builder(templates, backends, outputs, progress)
            .modelHost(modelHost)
            .slots(slots)
            .vramMb(vramMb));
  }

  private TestHost(Builder b) {
    env =
        b.realTime
            ? TestWorkflowEnvironment.newInstance(
                TestEnvironmentOptions.newBuilder().setUseTimeskipping(false).build())
            : TestWorkflowEnvironment.newInstance();
    client = env.getWorkflowClient();
    // on skipped time every heartbeat looks late: host liveness only on real time
    allocator =
        new SlotAllocatorClient(
            client,
            b.realTime ? AllocatorSettings.defaults() : AllocatorSettings.withoutHostLiveness());
    TemplateTranslator translator = new TemplateTranslator(new ObjectMapper());
    HostRegistration host =
        HostRegistration.of(HOST_ID, List.of(new Gpu(0, b.vramMb)), b.slots, b.prefetch);
    GenerationActivitySet set =
        GenerationActivitySet.of(
            allocator,
            b.templates,
            translator,
            b.backends,
            b.outputs,
            b.progress,
            metrics,
            b.modelHost,
            host,
            POOL,
            0);
    if (b.models != null) {
      set =
          set.withPlanning(
              new PlanningActivitiesImpl(
                  b.templates,
                  translator,
                  b.models,
                  b.modelHost != null,
                  new PhaseEvents(b.progress)));
    }
    if (b.planning != null) {
      set = set.withPlanning(b.planning.apply(set.planning()));
    }
    if (b.runs != null) {
      set = set.withRuns(b.runs.apply(set.runs()));
    }
    activities = set;
    activities.register(env.getWorkerFactory(), GENERATION_QUEUES, HOST_QUEUE);
    GenerationActivitySet.registerAllocator(env.getWorkerFactory(), client, b.progress);
    env.start();
    allocator.registerHost(POOL, host);
  }

  /**
   * A host to configure: 2 slots on a GPU of 24 GB, no model host, the templates' model registry.
   */
  public static Builder builder(
      TemplateRegistry templates,
      BackendRegistry backends,
      OutputStore outputs,
      ProgressBus progress) {
    return new Builder(templates, backends, outputs, progress);
  }

  /** A stub for generation {@code id} on the test queue. */
  public GenerationWorkflow workflow(String id) {
    return workflow(id, GenerationWorkflow.TASK_QUEUE);
  }

  /** A stub for generation {@code id} on {@code queue} (a tier's queue). */
  public GenerationWorkflow workflow(String id, String queue) {
    return client.newWorkflowStub(
        GenerationWorkflow.class,
        WorkflowOptions.newBuilder().setTaskQueue(queue).setWorkflowId(id).build());
  }

  /** Runs a generation to its end: its result, whether it succeeded, failed or was cancelled. */
  public GenerationResult run(String id, GenerationRequest request) {
    return runToEnd(workflow(id), request);
  }

  /** How a started generation ended (waits for it). */
  public GenerationResult endOf(String id) {
    return endOf(client, id);
  }

  /** What the pool's allocator knows now (leases held, generations waiting). */
  public AllocatorState allocatorState() {
    return allocator.state(POOL);
  }

  /**
   * Runs {@code workflow} to its end: its result, whether it succeeded, failed or was cancelled.
   */
  public static GenerationResult runToEnd(GenerationWorkflow workflow, GenerationRequest request) {
    try {
      return workflow.run(request);
    } catch (WorkflowFailedException failed) {
      return GenerationEnds.of(WorkflowStub.fromTyped(workflow));
    }
  }

  /** How generation {@code id} ended (waits for it). */
  public static GenerationResult endOf(WorkflowClient client, String id) {
    return GenerationEnds.of(client.newUntypedWorkflowStub(id));
  }

  @Override
  public void close() {
    env.close();
  }

  /** What a test host runs with; {@link #start} starts it. */
  public static final class Builder {
    private final TemplateRegistry templates;
    private final BackendRegistry backends;
    private final OutputStore outputs;
    private final ProgressBus progress;
    private ModelHost modelHost;
    private int slots = 2;
    private int prefetch;
    private int vramMb = 24_000;
    private ModelLookup models;
    private boolean realTime;
    private UnaryOperator<PlanningActivities> planning;
    private UnaryOperator<BackendActivities> runs;

    private Builder(
        TemplateRegistry templates,
        BackendRegistry backends,
        OutputStore outputs,
        ProgressBus progress) {
      this.templates = templates;
      this.backends = backends;
      this.outputs = outputs;
      this.progress = progress;
    }

    /** The host's model containers (null, the default: it runs none). */
    public Builder modelHost(ModelHost modelHost) {
      this.modelHost = modelHost;
      return this;
    }

    /** How many generations the host runs at once. */
    public Builder slots(int slots) {
      this.slots = slots;
      return this;
    }

    /** How many generations the host holds leases for beyond its slots, ready (default 0). */
    public Builder prefetch(int prefetch) {
      this.prefetch = prefetch;
      return this;
    }

    /** The memory of the host's one GPU. */
    public Builder vramMb(int vramMb) {
      this.vramMb = vramMb;
      return this;
    }

    /** The model registry planning looks fallback models up in (default: the templates' own). */
    public Builder models(ModelLookup models) {
      this.models = models;
      return this;
    }

    /**
     * Real time: the test server does not skip ahead while workflows wait (for real containers).
     */
    public Builder realTime() {
      this.realTime = true;
      return this;
    }

    /** Registers {@code wrap(planning)} instead of the real planning activities. */
    public Builder planning(UnaryOperator<PlanningActivities> wrap) {
      this.planning = wrap;
      return this;
    }

    /** Registers {@code wrap(runs)} instead of the real backend-run activities. */
    public Builder runs(UnaryOperator<BackendActivities> wrap) {
      this.runs = wrap;
      return this;
    }

    /** The host, started, its GPU registered with the pool. */
    public TestHost start() {
      return new TestHost(this);
    }
  }
}
