package io.tempera.activities.workflows;

import static org.assertj.core.api.Assertions.assertThat;

import io.tempera.activities.GenerationActivitySet;
import io.tempera.activities.TestHost;
import io.tempera.activities.slots.SlotAllocatorClient;
import io.tempera.generation.ErrorCode;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationStatus;
import io.tempera.generation.GenerationWorkflow;
import io.tempera.generation.GenerationWorkflowImpl;
import io.tempera.slots.AllocatorSettings;
import io.tempera.slots.Gpu;
import io.tempera.slots.HostRegistration;
import io.tempera.webhooks.Webhook;
import io.tempera.webhooks.WebhookAttempt;
import io.tempera.webhooks.WebhookDeliveryState;
import io.tempera.webhooks.WebhookDeliveryStatus;
import io.tempera.webhooks.WebhookDeliveryWorkflow;
import io.tempera.webhooks.WebhookDeliveryWorkflowImpl;
import io.tempera.webhooks.WebhookPost;
import io.tempera.webhooks.WebhookRetry;
import io.temporal.api.enums.v1.WorkflowExecutionStatus;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowOptions;
import io.temporal.client.WorkflowStub;
import io.temporal.failure.ApplicationFailure;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.worker.Worker;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A generation that names a webhook ends as one without does, and its end is delivered by a child
 * workflow that tries the receiver again with backoff: every attempt in its state, a refusal (4xx)
 * not tried again, a receiver that keeps failing given up on at the schedule's end. On the
 * in-process test server with time skipping; the receiver is scripted.
 */
class WebhookDeliveryWorkflowTest {

  private static final String HOST_QUEUE = HostRegistration.taskQueueFor("h1");
  private static final WebhookRetry FAST =
      WebhookRetry.of(Duration.ofSeconds(1), Duration.ofSeconds(8), Duration.ofMinutes(1));

  private TestWorkflowEnvironment env;
  private WorkflowClient client;
  private FakeGenerationActivities activities;
  private final ScriptedWebhooks receiver = new ScriptedWebhooks();

  @BeforeEach
  void setUp() {
    env = TestWorkflowEnvironment.newInstance();
    client = env.getWorkflowClient();
    activities = new FakeGenerationActivities();
    activities.allocator = new SlotAllocatorClient(client, AllocatorSettings.withoutHostLiveness());
    Worker worker = env.newWorker(GenerationWorkflow.TASK_QUEUE);
    worker.registerWorkflowImplementationTypes(GenerationWorkflowImpl.class);
    worker.registerActivitiesImplementations(activities);
    env.newWorker(HOST_QUEUE).registerActivitiesImplementations(activities);
    GenerationActivitySet.registerAllocator(
        env.getWorkerFactory(), client, new io.tempera.progress.InProcessProgressBus());
    Worker webhooks = env.newWorker(WebhookDeliveryWorkflow.TASK_QUEUE);
    webhooks.registerWorkflowImplementationTypes(WebhookDeliveryWorkflowImpl.class);
    webhooks.registerActivitiesImplementations(receiver);
    env.start();
    activities.host = new HostRegistration("h1", HOST_QUEUE, List.of(new Gpu(0, 24_000)), 1);
    activities.allocator.registerHost(activities.pool, activities.host);
  }

  @AfterEach
  void tearDown() {
    env.close();
  }

  private GenerationWorkflow generation(String id) {
    return client.newWorkflowStub(
        GenerationWorkflow.class,
        WorkflowOptions.newBuilder()
            .setTaskQueue(GenerationWorkflow.TASK_QUEUE)
            .setWorkflowId(id)
            .build());
  }

  private static GenerationRequest withWebhook(String url, WebhookRetry retry) {
    return new GenerationRequest("invert", "standard", Map.of(), "p1", "n1", null)
        .withWebhook(new Webhook(url, retry));
  }

  private WebhookDeliveryState deliveryOf(String generationId) {
    return client
        .newUntypedWorkflowStub(WebhookDeliveryWorkflow.idFor(generationId))
        .getResult(WebhookDeliveryState.class);
  }

  @Test
  void aReceiverThatFailsTwiceGetsTheEventOnTheThirdAttemptEveryAttemptInTheState() {
    receiver.statusOf = number -> number <= 2 ? 500 : 200;

    GenerationResult result =
        TestHost.runToEnd(
            generation("gen-hook-retried"), withWebhook("https://hooks.example.com/t", FAST));
    WebhookDeliveryState delivery = deliveryOf("gen-hook-retried");

    assertThat(result.status()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(delivery.status()).isEqualTo(WebhookDeliveryStatus.DELIVERED);
    assertThat(delivery.url()).isEqualTo("https://hooks.example.com/t");
    assertThat(delivery.attempts())
        .extracting(WebhookAttempt::number, WebhookAttempt::httpStatus, WebhookAttempt::delivered)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(1, 500, false),
            org.assertj.core.groups.Tuple.tuple(2, 500, false),
            org.assertj.core.groups.Tuple.tuple(3, 200, true));
    assertThat(delivery.nextAttemptAt()).isNull();
    // the same event each time: its id is the receiver's idempotency key
    assertThat(receiver.posts).extracting(p -> p.event().id()).containsOnly("evt-gen-hook-retried");
    WebhookPost first = receiver.posts.get(0);
    assertThat(first.event().type()).isEqualTo("generation.succeeded");
    assertThat(first.event().projectId()).isEqualTo("p1");
    assertThat(first.event().generation()).isEqualTo(result);
    assertThat(receiver.posts).extracting(WebhookPost::event).containsOnly(first.event());
  }

  @Test
  void theWaitBetweenAttemptsGrowsAndTheStateSaysWhenTheNextIsDue() {
    receiver.statusOf = number -> number < 3 ? 503 : 204;
    WebhookRetry slow =
        WebhookRetry.of(Duration.ofMinutes(1), Duration.ofMinutes(10), Duration.ofHours(1));
    TestHost.runToEnd(
        generation("gen-hook-backoff"), withWebhook("https://hooks.example.com/t", slow));
    WorkflowStub delivery =
        client.newUntypedWorkflowStub(WebhookDeliveryWorkflow.idFor("gen-hook-backoff"));
    // past the second attempt (after 1 min + up to 20%), before the third (2 min later)
    env.sleep(Duration.ofSeconds(100));

    WebhookDeliveryState during = delivery.query("state", WebhookDeliveryState.class);
    assertThat(during.status()).isEqualTo(WebhookDeliveryStatus.RETRYING);
    assertThat(during.attempts()).extracting(WebhookAttempt::httpStatus).containsExactly(503, 503);
    // the generation ended while its delivery goes on
    assertThat(client.newUntypedWorkflowStub("gen-hook-backoff").describe().getStatus())
        .isEqualTo(WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED);
    Instant first = Instant.parse(during.attempts().get(0).at());
    Instant second = Instant.parse(during.attempts().get(1).at());
    Instant third = Instant.parse(during.nextAttemptAt());
    // 1 min, then 2 min, each with up to 20% jitter; an attempt's time is read when it ran, so the
    // gap also holds the attempt's own work (the refused POST): up to a second allowed for it
    assertThat(Duration.between(first, second))
        .isBetween(Duration.ofSeconds(60), Duration.ofSeconds(73));
    assertThat(Duration.between(second, third))
        .isBetween(Duration.ofSeconds(120), Duration.ofSeconds(145));

    WebhookDeliveryState done = delivery.getResult(WebhookDeliveryState.class);
    assertThat(done.status()).isEqualTo(WebhookDeliveryStatus.DELIVERED);
    assertThat(Instant.parse(done.attempts().get(2).at())).isAfterOrEqualTo(third);
  }

  @Test
  void aRefusalIsNotTriedAgain() {
    receiver.statusOf = number -> 410;

    TestHost.runToEnd(
        generation("gen-hook-refused"), withWebhook("https://hooks.example.com/t", FAST));
    WebhookDeliveryState delivery = deliveryOf("gen-hook-refused");

    assertThat(delivery.status()).isEqualTo(WebhookDeliveryStatus.FAILED);
    assertThat(delivery.attempts()).hasSize(1);
    assertThat(delivery.reason()).contains("refused").contains("HTTP 410");
  }

  @Test
  void rateLimitedAndTimedOutAttemptsAreTriedAgain() {
    receiver.statusOf = number -> number == 1 ? 429 : number == 2 ? 408 : 200;

    TestHost.runToEnd(generation("gen-hook-429"), withWebhook("https://hooks.example.com/t", FAST));

    assertThat(deliveryOf("gen-hook-429").attempts())
        .extracting(WebhookAttempt::httpStatus)
        .containsExactly(429, 408, 200);
  }

  @Test
  void aReceiverThatNeverAnswersIsGivenUpOnAtTheEndOfTheSchedule() {
    receiver.statusOf = number -> 502;

    TestHost.runToEnd(
        generation("gen-hook-gives-up"), withWebhook("https://hooks.example.com/t", FAST));
    WebhookDeliveryState delivery = deliveryOf("gen-hook-gives-up");

    assertThat(delivery.status()).isEqualTo(WebhookDeliveryStatus.FAILED);
    assertThat(delivery.reason()).startsWith("Gave up after").contains("HTTP 502");
    // 1, 2, 4, 8, 8, 8 ... s (+ up to 20%) within one minute: between 6 and 10 attempts
    assertThat(delivery.attempts()).hasSizeBetween(6, 10);
    Instant first = Instant.parse(delivery.attempts().get(0).at());
    Instant last = Instant.parse(delivery.attempts().get(delivery.attempts().size() - 1).at());
    assertThat(Duration.between(first, last)).isLessThanOrEqualTo(Duration.ofMinutes(1));
  }

  @Test
  void aFailedAndACancelledGenerationAreDeliveredToo() throws Exception {
    activities.backend =
        job -> {
          throw ApplicationFailure.newNonRetryableFailure(
              "Node 3 failed", ErrorCode.EXECUTION_ERROR.name());
        };
    GenerationResult failed =
        TestHost.runToEnd(
            generation("gen-hook-failed"), withWebhook("https://hooks.example.com/t", FAST));
    assertThat(failed.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(deliveryOf("gen-hook-failed").status()).isEqualTo(WebhookDeliveryStatus.DELIVERED);

    activities.backend =
        job -> {
          FakeGenerationActivities.sleep(30_000);
          throw new IllegalStateException("not cancelled");
        };
    GenerationWorkflow cancelled = generation("gen-hook-cancelled");
    WorkflowClient.start(cancelled::run, withWebhook("https://hooks.example.com/t", FAST));
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> activities.calls.contains("run"));
    WorkflowStub.fromTyped(cancelled).cancel("the user changed their mind");
    assertThat(TestHost.endOf(client, "gen-hook-cancelled").status())
        .isEqualTo(GenerationStatus.CANCELLED);
    assertThat(deliveryOf("gen-hook-cancelled").status())
        .isEqualTo(WebhookDeliveryStatus.DELIVERED);

    assertThat(receiver.posts)
        .extracting(p -> p.event().id() + " " + p.event().type())
        .containsExactly(
            "evt-gen-hook-failed generation.failed", "evt-gen-hook-cancelled generation.cancelled");
    assertThat(receiver.posts.get(0).event().generation().error().code())
        .isEqualTo(ErrorCode.EXECUTION_ERROR.name());
  }

  @Test
  void aGenerationWithoutWebhookStartsNoDelivery() {
    TestHost.runToEnd(
        generation("gen-no-hook"),
        new GenerationRequest("invert", "standard", Map.of(), "p1", "n1", null));

    assertThat(receiver.posts).isEmpty();
    assertThat(
            client.fetchHistory("gen-no-hook").getEvents().stream()
                .noneMatch(e -> e.hasStartChildWorkflowExecutionInitiatedEventAttributes()))
        .isTrue();
  }
}
