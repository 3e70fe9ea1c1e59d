package io.tempera.activities;

import io.micrometer.core.instrument.MeterRegistry;
import io.tempera.activities.models.ModelActivitiesImpl;
import io.tempera.activities.outputs.OutputActivitiesImpl;
import io.tempera.activities.planning.PlanningActivitiesImpl;
import io.tempera.activities.run.BackendActivitiesImpl;
import io.tempera.activities.slots.HostActivitiesImpl;
import io.tempera.activities.slots.SlotActivitiesImpl;
import io.tempera.activities.slots.SlotAllocatorActivitiesImpl;
import io.tempera.activities.slots.SlotAllocatorClient;
import io.tempera.backend.BackendRegistry;
import io.tempera.containers.ModelHost;
import io.tempera.generation.BackendActivities;
import io.tempera.generation.GenerationWorkflowImpl;
import io.tempera.generation.ModelActivities;
import io.tempera.generation.OutputActivities;
import io.tempera.generation.PlanningActivities;
import io.tempera.outputs.OutputStore;
import io.tempera.progress.ProgressBus;
import io.tempera.slots.HostActivities;
import io.tempera.slots.HostRegistration;
import io.tempera.slots.SlotActivities;
import io.tempera.slots.SlotAllocatorWorkflow;
import io.tempera.slots.SlotAllocatorWorkflowImpl;
import io.tempera.template.TemplateRegistry;
import io.tempera.template.TemplateTranslator;
import io.temporal.client.WorkflowClient;
import io.temporal.worker.Worker;
import io.temporal.worker.WorkerFactory;
import java.util.Collection;

/**
 * The activities of one worker host, and where each runs: the generation queues run the workflows
 * with their planning (local activities) and lease requests; the host's own queue runs the steps
 * after a lease (model, backend run, outputs) and the host's liveness watch; the allocators' queue
 * runs the slot allocator.
 */
public record GenerationActivitySet(
    PlanningActivities planning,
    SlotActivities slots,
    ModelActivities models,
    BackendActivities runs,
    OutputActivities outputs,
    HostActivities host) {

  /** The same set planning with {@code other} (a test's scripted planning). */
  public GenerationActivitySet withPlanning(PlanningActivities other) {
    return new GenerationActivitySet(other, slots, models, runs, outputs, host);
  }

  /** The same set running on backends with {@code other} (a test's scripted runs). */
  public GenerationActivitySet withRuns(BackendActivities other) {
    return new GenerationActivitySet(planning, slots, models, other, outputs, host);
  }

  /**
   * The activities of a host in pool {@code pool}, asking for leases through {@code allocator}.
   *
   * @param modelHost the host's model containers (null: it runs none; every model is then planned
   *     on the configured endpoints)
   * @param host this host's registration with the pool (its id; registered again should the pool's
   *     allocator have stopped)
   * @param defaultVramMb what a generation whose model and tier declare no VRAM asks for
   */
  public static GenerationActivitySet of(
      SlotAllocatorClient allocator,
      TemplateRegistry templates,
      TemplateTranslator translator,
      BackendRegistry backends,
      OutputStore outputStore,
      ProgressBus progress,
      MeterRegistry metrics,
      ModelHost modelHost,
      HostRegistration host,
      String pool,
      int defaultVramMb) {
    PhaseEvents phases = new PhaseEvents(progress);
    return new GenerationActivitySet(
        new PlanningActivitiesImpl(
            templates, translator, templates::model, modelHost != null, phases),
        new SlotActivitiesImpl(allocator, pool, host, defaultVramMb, phases),
        new ModelActivitiesImpl(modelHost, host.hostId(), phases, metrics),
        new BackendActivitiesImpl(
            backends,
            outputStore,
            progress,
            metrics,
            modelHost,
            lease -> allocator.release(lease, "the run finished on the backend"),
            host.runsAtOnce()),
        new OutputActivitiesImpl(backends, outputStore, phases, metrics),
        new HostActivitiesImpl(allocator, host));
  }

  /**
   * Registers the generation queues and the host's queue on {@code factory} (before it starts); the
   * allocators' queue is registered apart ({@link #registerAllocator}: the worker application's
   * configuration declares it).
   */
  public void register(
      WorkerFactory factory, Collection<String> generationQueues, String hostQueue) {
    for (String queue : generationQueues) {
      Worker worker = factory.newWorker(queue);
      worker.registerWorkflowImplementationTypes(GenerationWorkflowImpl.class);
      worker.registerActivitiesImplementations(planning, slots);
    }
    factory.newWorker(hostQueue).registerActivitiesImplementations(models, runs, outputs, host);
  }

  /**
   * Registers the slot allocators' queue on {@code factory}: the allocator workflow and its
   * activities.
   */
  public static void registerAllocator(
      WorkerFactory factory, WorkflowClient client, ProgressBus progress) {
    Worker worker = factory.newWorker(SlotAllocatorWorkflow.TASK_QUEUE);
    worker.registerWorkflowImplementationTypes(SlotAllocatorWorkflowImpl.class);
    worker.registerActivitiesImplementations(new SlotAllocatorActivitiesImpl(client, progress));
  }
}
