package io.tempera.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationState;
import io.tempera.generation.GenerationStatus;
import io.tempera.generation.Phase;
import io.tempera.progress.InProcessProgressBus;
import io.tempera.progress.ProgressEvent;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import reactor.test.StepVerifier;

/**
 * The feed's order rules, with a workflow whose state query is slow (under load a query waits
 * behind the worker's backlog): live progress is not held back by it, and no event a client
 * receives is older than one it already has.
 */
class GenerationFeedTest {

  private static final String ID = "gen-feed-test";
  private final InProcessProgressBus bus = new InProcessProgressBus();
  private final CountDownLatch queryAnswers = new CountDownLatch(1);
  private final CompletableFuture<GenerationResult> result = new CompletableFuture<>();
  private final AtomicReference<GenerationStatus> status =
      new AtomicReference<>(GenerationStatus.RUNNING);
  private final AtomicInteger resultCalls = new AtomicInteger();

  private final GenerationService generations =
      new GenerationService(
          null,
          null,
          null,
          bus,
          null,
          new io.tempera.security.SignedUrls(
              () -> new byte[32], java.time.Duration.ofHours(1), java.time.Clock.systemUTC())) {
        @Override
        public GenerationState state(String id) {
          try {
            queryAnswers.await(30, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          return stateOf(status.get());
        }

        @Override
        public CompletableFuture<GenerationResult> result(String id) {
          resultCalls.incrementAndGet();
          return result;
        }

        @Override
        public boolean running(String id) {
          return !status.get().terminal();
        }

        @Override
        public ApiMessages.Generation view(String id) {
          return toView(stateOf(status.get()), bus.latest(id));
        }
      };

  private static GenerationState stateOf(GenerationStatus status) {
    Phase phase = status == GenerationStatus.SUCCEEDED ? Phase.SUCCEEDED : Phase.GENERATING;
    return new GenerationState(
        ID,
        status,
        phase,
        0.1,
        null,
        "f",
        "1",
        "p",
        "n",
        "standard",
        "standard",
        List.of(),
        List.of(),
        null,
        List.of(),
        null,
        null,
        List.of());
  }

  private void publish(int step) {
    bus.publish(
        new ProgressEvent(
            ID,
            0,
            "progress",
            "GENERATING",
            step / 10.0,
            step,
            10,
            null,
            "step " + step,
            System.currentTimeMillis(),
            null,
            null));
  }

  private final GenerationFeed feed =
      new GenerationFeed(generations, bus, Duration.ofMillis(300), GenerationFeed.END_CHECK_EVERY);

  /** The query answers only when told to: longer than the feed's grace (300 ms here). */
  @Test
  void liveProgressFlowsWhileTheStateQueryIsSlowAndTheSnapshotNeverGoesBack() {
    StepVerifier.create(feed.follow(ID, 0))
        .then(() -> publish(1))
        .then(() -> publish(2))
        .assertNext(e -> assertThat(((GenerationFeed.Live) e).event().step()).isEqualTo(1))
        .assertNext(e -> assertThat(((GenerationFeed.Live) e).event().step()).isEqualTo(2))
        .then(queryAnswers::countDown)
        .assertNext(e -> {
          GenerationFeed.Snapshot snapshot = (GenerationFeed.Snapshot) e;
          assertThat(snapshot.view().eventId())
              .as("the snapshot reflects what was sent")
              .isEqualTo(2);
          assertThat(snapshot.view().step()).isEqualTo(2);
        })
        .then(() -> publish(3))
        .assertNext(e -> assertThat(((GenerationFeed.Live) e).event().seq()).isEqualTo(3))
        .then(() -> {
          status.set(GenerationStatus.SUCCEEDED);
          result.complete(null);
        })
        .assertNext(
            e -> assertThat(((GenerationFeed.Final) e).view().status()).isEqualTo("SUCCEEDED"))
        .expectComplete()
        .verify(Duration.ofSeconds(20));
  }

  @Test
  void aQuickSnapshotGoesFirstEvenWhenProgressArrivedBeforeIt() {
    StepVerifier.create(feed.follow(ID, 0))
        .then(() -> publish(1)) // buffered while the query runs
        .then(queryAnswers::countDown)
        .assertNext(e -> assertThat(e).isInstanceOf(GenerationFeed.Snapshot.class))
        .then(() -> publish(2))
        .assertNext(e -> assertThat(((GenerationFeed.Live) e).event().seq()).isEqualTo(2))
        .thenCancel()
        .verify(Duration.ofSeconds(20));
  }

  @Test
  void progressTheClientAlreadyHasIsNotSentAgain() {
    publish(1);
    publish(2);
    queryAnswers.countDown();
    StepVerifier.create(feed.follow(ID, 3))
        .assertNext(e -> assertThat(e).isInstanceOf(GenerationFeed.Snapshot.class))
        .then(() -> publish(3)) // seq 3: the client has it
        .then(() -> publish(4))
        .assertNext(e -> assertThat(((GenerationFeed.Live) e).event().seq()).isEqualTo(4))
        .thenCancel()
        .verify(Duration.ofSeconds(20));
  }

  @Test
  void aGenerationThatHasEndedGetsOnlyItsFinalState() {
    status.set(GenerationStatus.SUCCEEDED);
    result.complete(null);
    queryAnswers.countDown();
    StepVerifier.create(feed.follow(ID, 0))
        .assertNext(
            e -> assertThat(((GenerationFeed.Final) e).view().status()).isEqualTo("SUCCEEDED"))
        .expectComplete()
        .verify(Duration.ofSeconds(20));
  }

  /**
   * With a worker publishing ends on the bus, a follower holds no wait on Temporal while the
   * generation runs: it reads the end once the worker's notice came (and never shows the notice).
   */
  @Test
  void theEndIsReadFromTemporalOnlyOnceTheWorkerSaysItEnded() {
    bus.endsPublishedHere();
    queryAnswers.countDown();
    GenerationFeed quiet =
        new GenerationFeed(generations, bus, Duration.ofMillis(300), Duration.ofHours(1));
    StepVerifier.create(quiet.follow(ID, 0))
        .assertNext(e -> assertThat(e).isInstanceOf(GenerationFeed.Snapshot.class))
        .then(() -> publish(1))
        .assertNext(e -> assertThat(((GenerationFeed.Live) e).event().step()).isEqualTo(1))
        .then(() -> assertThat(resultCalls.get()).as("no wait on Temporal yet").isZero())
        .then(() -> {
          status.set(GenerationStatus.SUCCEEDED);
          result.complete(null);
          bus.publishEnd(ID);
        })
        .assertNext(
            e -> assertThat(((GenerationFeed.Final) e).view().status()).isEqualTo("SUCCEEDED"))
        .expectComplete()
        .verify(Duration.ofSeconds(20));
    assertThat(resultCalls.get()).isEqualTo(1);
    assertThat(bus.latest(ID).orElseThrow().type())
        .as("the notice is not the latest progress")
        .isEqualTo("progress");
  }

  /** An end nobody announced (terminated from the Temporal UI, a lost notice) is found too. */
  @Test
  void anEndWithoutNoticeIsFoundByCheckingNowAndThen() {
    bus.endsPublishedHere();
    queryAnswers.countDown();
    GenerationFeed checking =
        new GenerationFeed(generations, bus, Duration.ofMillis(300), Duration.ofMillis(100));
    StepVerifier.create(checking.follow(ID, 0))
        .assertNext(e -> assertThat(e).isInstanceOf(GenerationFeed.Snapshot.class))
        .then(() -> {
          status.set(GenerationStatus.SUCCEEDED);
          result.complete(null);
        })
        .assertNext(
            e -> assertThat(((GenerationFeed.Final) e).view().status()).isEqualTo("SUCCEEDED"))
        .expectComplete()
        .verify(Duration.ofSeconds(20));
  }
}
