package io.tempera.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowOptions;
import io.temporal.common.Priority;
import io.temporal.serviceclient.WorkflowServiceStubs;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import io.temporal.worker.WorkerFactory;
import io.temporal.worker.WorkerOptions;
import io.temporal.workflow.Workflow;
import io.temporal.workflow.WorkflowInterface;
import io.temporal.workflow.WorkflowMethod;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * On the Temporal CLI's dev server as {@code ./tempera run} starts it (priority and fairness on,
 * one partition per task queue): tasks backlogged on a queue reach a worker in priority order, and
 * within a priority a project flooding the queue does not keep another's few behind all of its own
 * — what the API's start options ask of Temporal for every generation (key, fairness key = project,
 * fairness weight), here on a queue of its own with a one-slot worker.
 */
class TaskQueuePriorityOnDevServerTest {

  static final Queue<String> STARTED = new ConcurrentLinkedQueue<>();

  @WorkflowInterface
  public interface Ordered {
    @WorkflowMethod
    String run(String name);
  }

  public static class OrderedImpl implements Ordered {
    @Override
    public String run(String name) {
      if (!Workflow.isReplaying()) {
        STARTED.add(name);
      }
      return name;
    }
  }

  @Test
  void backloggedTasksReachTheWorkerInPriorityThenFairShareOrder() throws Exception {
    Path dir = Files.createTempDirectory("tempera-priority-dev");
    try (TemporalDevServer server =
        TemporalDevServer.start(
            TemporalDevServer.cli(), dir.resolve("temporal.db"), dir.resolve("temporal.log"))) {
      WorkflowServiceStubs service =
          WorkflowServiceStubs.newServiceStubs(
              WorkflowServiceStubsOptions.newBuilder().setTarget(server.target()).build());
      try {
        WorkflowClient client = WorkflowClient.newInstance(service);
        // priorities: backlogged batch, normal, urgent, interactive; then a flood and a trickle of
        // the same priority on another queue
        List<String[]> priorities =
            List.of(
                new String[] {"batch-1", "5"},
                new String[] {"normal-1", "3"},
                new String[] {"urgent-1", "1"},
                new String[] {"batch-2", "5"},
                new String[] {"interactive-1", "2"},
                new String[] {"normal-2", "3"});
        for (String[] p : priorities) {
          start(client, "prio-q", p[0], Integer.parseInt(p[1]), "p", 1);
        }
        int flood = 40;
        for (int i = 0; i < flood; i++) {
          start(client, "fair-q", String.format("flood-%02d", i), 3, "flood", 1);
        }
        for (int i = 0; i < 3; i++) {
          start(client, "fair-q", "trickle-" + i, 3, "trickle", 1);
        }

        List<String> order = drain(client, "prio-q", priorities.size());
        assertThat(order)
            .containsExactly(
                "urgent-1", "interactive-1", "normal-1", "normal-2", "batch-1", "batch-2");

        List<String> fair = drain(client, "fair-q", flood + 3);
        int lastTrickle =
            List.of("trickle-0", "trickle-1", "trickle-2").stream()
                .mapToInt(fair::indexOf)
                .max()
                .orElseThrow();
        System.out.printf(
            "TASK-QUEUE FAIRNESS on the dev server: the trickle's last of 3 dispatched %d of %d"
                + " (FIFO: %d); order %s%n",
            lastTrickle + 1, fair.size(), flood + 3, fair);
        // arrival order would put the trickle after the whole flood (positions 41-43); fairness
        // alternates between the two keys
        assertThat(lastTrickle).isLessThan(10);
      } finally {
        service.shutdown();
      }
    }
  }

  private static void start(
      WorkflowClient client, String queue, String name, int key, String project, float weight) {
    Ordered stub =
        client.newWorkflowStub(
            Ordered.class,
            WorkflowOptions.newBuilder()
                .setTaskQueue(queue)
                .setWorkflowId(queue + "-" + name)
                .setPriority(
                    Priority.newBuilder()
                        .setPriorityKey(key)
                        .setFairnessKey(project)
                        .setFairnessWeight(weight)
                        .build())
                .build());
    WorkflowClient.start(stub::run, name);
  }

  /**
   * Starts a one-slot worker on {@code queue} and the names in the order their tasks ran. Twice in
   * CI (of about ten runs) the dev server handed the worker one task of the fair queue and then
   * none for 3 minutes, 42 left in its backlog (the workflows RUNNING in its database): a worker
   * that gets nothing for {@link #STALL} is replaced by a new one once, and the stall is printed;
   * the order asserted is still the order the tasks ran in.
   */
  private static List<String> drain(WorkflowClient client, String queue, int count) {
    STARTED.clear();
    for (int worker = 1; ; worker++) {
      WorkerFactory factory = WorkerFactory.newInstance(client);
      factory
          .newWorker(
              queue,
              WorkerOptions.newBuilder()
                  .setMaxConcurrentWorkflowTaskExecutionSize(1)
                  .setMaxConcurrentWorkflowTaskPollers(1)
                  .build())
          .registerWorkflowImplementationTypes(OrderedImpl.class);
      factory.start();
      try {
        Awaitility.await("every task of " + queue + " ran")
            .atMost(worker == 1 ? STALL : Duration.ofSeconds(180))
            .until(() -> STARTED.size() >= count);
        return new ArrayList<>(STARTED);
      } catch (org.awaitility.core.ConditionTimeoutException stalled) {
        if (worker > 1) {
          throw stalled;
        }
        System.out.printf(
            "TASK-QUEUE STALL on the dev server: %d of %d tasks of %s ran in %s (%s); a new worker"
                + " polls%n",
            STARTED.size(), count, queue, STALL, STARTED);
      } finally {
        factory.shutdownNow();
      }
    }
  }

  /** How long a worker may get nothing before it is replaced (the drain takes 1-15 s). */
  private static final Duration STALL = Duration.ofSeconds(60);
}
