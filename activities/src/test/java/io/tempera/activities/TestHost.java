package io.tempera.activities;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tempera.activities.slots.SlotAllocatorClient;
import io.tempera.backend.BackendRegistry;
import io.tempera.containers.ModelHost;
import io.tempera.generation.GenerationEnds;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationWorkflow;
import io.tempera.outputs.OutputStore;
import io.tempera.progress.ProgressBus;
import io.tempera.slots.AllocatorSettings;
import io.tempera.slots.Gpu;
import io.tempera.slots.HostRegistration;
import io.tempera.template.TemplateRegistry;
import io.tempera.template.TemplateTranslator;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowFailedException;
import io.temporal.client.WorkflowOptions;
import io.temporal.client.WorkflowStub;
import io.temporal.testing.TestWorkflowEnvironment;
import java.util.List;

/**
 * One worker host with the real activities on an in-process Temporal test server, as a worker host
 * runs them: generations start on {@link GenerationWorkflow#TASK_QUEUE} (and each tier's queue),
 * lease from pool {@link #POOL}'s allocator, and run their later steps on the host's own queue.
 */
public final class TestHost implements AutoCloseable {

  public static final String POOL = "test";
  public static final String HOST_ID = "test-host";
  public static final String HOST_QUEUE = HostRegistration.taskQueueFor(HOST_ID);

  public final TestWorkflowEnvironment env;
  public final WorkflowClient client;
  public final SlotAllocatorClient allocator;
  public final GenerationActivitySet activities;
  public final MeterRegistry metrics = new SimpleMeterRegistry();

  /** A host with {@code slots} slots on one GPU of {@code vramMb}; {@code modelHost} null runs no containers. */
  public TestHost(
      TemplateRegistry templates, BackendRegistry backends, OutputStore outputs, ProgressBus progress, ModelHost modelHost,
      int slots, int vramMb) {
    env = TestWorkflowEnvironment.newInstance();
    client = env.getWorkflowClient();
    allocator = new SlotAllocatorClient(client, AllocatorSettings.defaults());
    activities =
        GenerationActivitySet.of(client, allocator, templates, new TemplateTranslator(new com.fasterxml.jackson.databind.ObjectMapper()),
            backends, outputs, progress, metrics, modelHost, HOST_ID, POOL, 0);
    activities.register(
        env.getWorkerFactory(),
        List.of(GenerationWorkflow.TASK_QUEUE, GenerationWorkflow.taskQueueFor("draft"), GenerationWorkflow.taskQueueFor("standard"),
            GenerationWorkflow.taskQueueFor("high"), GenerationWorkflow.taskQueueFor("ultra")),
        HOST_QUEUE);
    GenerationActivitySet.registerAllocator(env.getWorkerFactory(), client);
    env.start();
    allocator.registerHost(POOL, new HostRegistration(HOST_ID, HOST_QUEUE, List.of(new Gpu(0, vramMb)), slots));
  }

  /** A stub for generation {@code id} on the test queue. */
  public GenerationWorkflow workflow(String id) {
    return client.newWorkflowStub(
        GenerationWorkflow.class,
        WorkflowOptions.newBuilder().setTaskQueue(GenerationWorkflow.TASK_QUEUE).setWorkflowId(id).build());
  }

  /** Runs a generation to its end: its result, whether it succeeded, failed or was cancelled. */
  public GenerationResult run(String id, GenerationRequest request) {
    return runToEnd(workflow(id), request);
  }

  /** How a started generation ended (waits for it). */
  public GenerationResult endOf(String id) {
    return endOf(client, id);
  }

  /** Runs {@code workflow} to its end: its result, whether it succeeded, failed or was cancelled. */
  public static GenerationResult runToEnd(GenerationWorkflow workflow, GenerationRequest request) {
    try {
      return workflow.run(request);
    } catch (WorkflowFailedException failed) {
      return GenerationEnds.of(WorkflowStub.fromTyped(workflow).getExecution().getWorkflowId(), failed);
    }
  }

  /** How generation {@code id} ended (waits for it). */
  public static GenerationResult endOf(WorkflowClient client, String id) {
    try {
      return client.newUntypedWorkflowStub(id).getResult(GenerationResult.class);
    } catch (WorkflowFailedException failed) {
      return GenerationEnds.of(id, failed);
    }
  }

  @Override
  public void close() {
    env.close();
  }
}
