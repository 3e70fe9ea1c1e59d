package io.tempera.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationState;
import io.tempera.generation.GenerationStatus;
import io.tempera.generation.Phase;
import io.tempera.progress.InProcessProgressBus;
import io.tempera.progress.ProgressBus;
import io.tempera.progress.ProgressEvent;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
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
  private final AtomicInteger stateCalls = new AtomicInteger();
  private final AtomicInteger runningCalls = new AtomicInteger();
  private final AtomicInteger viewCalls = new AtomicInteger();

  /** How long each periodic end check takes (Temporal slow or away); 0: at once. */
  private final java.util.concurrent.atomic.AtomicLong checkTakesMillis =
      new java.util.concurrent.atomic.AtomicLong();

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
          stateCalls.incrementAndGet();
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
          runningCalls.incrementAndGet();
          long slow = checkTakesMillis.get();
          if (slow > 0) {
            try {
              Thread.sleep(slow);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }
          return !status.get().terminal();
        }

        @Override
        public ApiMessages.Generation view(String id) {
          viewCalls.incrementAndGet();
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
        List.of(),
        null);
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

  /**
   * A generation in its pool's line shows what it waits for, its place and the allocator's
   * estimate, in the REST view and the live fields; one waiting in the backend's queue, that.
   */
  @Test
  void aQueuedGenerationShowsWhatItWaitsForItsPlaceAndItsWait() {
    GenerationState inLine =
        new GenerationState(
            ID,
            GenerationStatus.QUEUED,
            Phase.WAITING_FOR_SLOT,
            0.02,
            7,
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
            List.of(),
            null);
    ProgressEvent slot =
        new ProgressEvent(
            ID,
            3,
            "phase",
            "WAITING_FOR_SLOT",
            0.02,
            null,
            null,
            4,
            "Waiting for a GPU (4 in line, about 20 s)",
            1L,
            30,
            null,
            20,
            ProgressEvent.WAITING_FOR_SLOT);
    ApiMessages.Generation view = generations.toView(inLine, java.util.Optional.of(slot));
    assertThat(view.queuePosition())
        .as("the place published, nearer than the one told")
        .isEqualTo(4);
    assertThat(view.waiting()).isEqualTo(new ApiMessages.Waiting("slot", 4, 20));
    assertThat(view.etaSeconds()).isEqualTo(30);
    assertThat(generations.toView(inLine, java.util.Optional.empty()).waiting())
        .as("before any event: the place the workflow was told")
        .isEqualTo(new ApiMessages.Waiting("slot", 7, null));
    assertThat(feed.progressFields(java.util.Map.of(), slot))
        .containsEntry(
            "waiting", java.util.Map.of("for", "slot", "position", 4, "startsInSeconds", 20));

    GenerationState running = stateOf(GenerationStatus.RUNNING);
    ProgressEvent backend =
        new ProgressEvent(
            ID,
            9,
            "progress",
            "GENERATING",
            0.05,
            null,
            null,
            2,
            "queued",
            2L,
            50,
            null,
            12,
            ProgressEvent.WAITING_FOR_BACKEND);
    assertThat(generations.toView(running, java.util.Optional.of(backend)).waiting())
        .isEqualTo(new ApiMessages.Waiting("backend", 2, 12));
    ProgressEvent runs =
        new ProgressEvent(ID, 10, "progress", "GENERATING", 0.5, 5, 10, null, "step", 3L, 9, null);
    assertThat(generations.toView(running, java.util.Optional.of(runs)).waiting())
        .as("running: waits for nothing")
        .isNull();
    assertThat(feed.progressFields(java.util.Map.of(), runs)).doesNotContainKey("waiting");
  }

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

  /**
   * End checks slower than their period (Temporal slow or away) pile no ticks up: the stream goes
   * on, and the end still comes once a check finds it. (The ticks queued behind slow checks used to
   * overflow after 32 and end every follower's stream with an error.)
   */
  @Test
  void endChecksSlowerThanTheirPeriodDoNotEndTheStream() {
    bus.endsPublishedHere();
    queryAnswers.countDown();
    checkTakesMillis.set(100);
    GenerationFeed checking =
        new GenerationFeed(generations, bus, Duration.ofMillis(300), Duration.ofMillis(1));
    StepVerifier.create(checking.follow(ID, 0))
        .assertNext(e -> assertThat(e).isInstanceOf(GenerationFeed.Snapshot.class))
        // 40 periods' worth of checks still out: more ticks than the 32 a queue took
        .expectNoEvent(Duration.ofSeconds(4))
        .then(() -> {
          status.set(GenerationStatus.SUCCEEDED);
          result.complete(null);
        })
        .assertNext(
            e -> assertThat(((GenerationFeed.Final) e).view().status()).isEqualTo("SUCCEEDED"))
        .expectComplete()
        .verify(Duration.ofSeconds(30));
  }

  /** Subscriptions to the bus made and closed, through the feed. */
  private final AtomicInteger subscriptions = new AtomicInteger();

  private final AtomicInteger subscriptionsClosed = new AtomicInteger();

  /** The test's bus, counting the feed's subscriptions. */
  private final ProgressBus countingBus =
      new ProgressBus() {
        @Override
        public ProgressEvent publish(ProgressEvent event) {
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
        public Optional<ProgressEvent> latest(String generationId) {
          return bus.latest(generationId);
        }

        @Override
        public AutoCloseable subscribe(String generationId, Consumer<ProgressEvent> listener) {
          subscriptions.incrementAndGet();
          AutoCloseable subscription = bus.subscribe(generationId, listener);
          return () -> {
            subscriptionsClosed.incrementAndGet();
            subscription.close();
          };
        }
      };

  /** One follower's events as they came, and whether its stream completed. */
  private record Follower(List<GenerationFeed.Event> events, CountDownLatch done, Disposable it) {

    static Follower of(GenerationFeed feed, long lastSeen) {
      List<GenerationFeed.Event> events = new CopyOnWriteArrayList<>();
      CountDownLatch done = new CountDownLatch(1);
      Disposable it =
          feed.follow(ID, lastSeen)
              .doFinally(signal -> done.countDown())
              .subscribe(events::add, error -> {});
      return new Follower(events, done, it);
    }

    boolean got(Class<? extends GenerationFeed.Event> type) {
      return events.stream().anyMatch(type::isInstance);
    }

    /** The steps of the live updates received, in order. */
    List<Integer> steps() {
      List<Integer> steps = new ArrayList<>();
      for (GenerationFeed.Event event : events) {
        if (event instanceof GenerationFeed.Live l) steps.add(l.event().step());
      }
      return steps;
    }
  }

  /**
   * 200 followers of one generation cost what one does: one bus subscription, one state query for
   * those arriving together, one end watch (its periodic checks counted per tick, not per
   * follower), one result read and one final view; and each still gets its snapshot, then every
   * update in order, then one final state.
   */
  @Test
  void followersOfOneGenerationShareOneSubscriptionOneEndWatchAndOneResultRead() throws Exception {
    bus.endsPublishedHere();
    GenerationFeed shared =
        new GenerationFeed(generations, countingBus, Duration.ofSeconds(10), Duration.ofMillis(50));
    List<Follower> followers = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      followers.add(Follower.of(shared, 0));
    }
    assertThat(subscriptions.get()).as("bus subscriptions").isEqualTo(1);
    assertThat(shared.upstreamsOpen()).isEqualTo(1);
    queryAnswers.countDown(); // they all arrived while the one query was in flight
    Awaitility.await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> followers.stream().allMatch(f -> f.got(GenerationFeed.Snapshot.class)));
    assertThat(stateCalls.get()).as("state queries").isEqualTo(1);
    for (int step = 1; step <= 5; step++) {
      publish(step);
    }
    Thread.sleep(500); // ten periodic checks for the whole lot
    assertThat(runningCalls.get()).as("periodic end checks").isBetween(1, 20);
    assertThat(resultCalls.get()).as("no wait on Temporal before the end").isZero();
    status.set(GenerationStatus.SUCCEEDED);
    result.complete(null);
    bus.publishEnd(ID);
    for (Follower follower : followers) {
      assertThat(follower.done().await(20, TimeUnit.SECONDS)).isTrue();
      List<GenerationFeed.Event> events = follower.events();
      assertThat(events.getFirst()).isInstanceOf(GenerationFeed.Snapshot.class);
      assertThat(follower.steps()).containsExactly(1, 2, 3, 4, 5);
      assertThat(events.getLast()).isInstanceOf(GenerationFeed.Final.class);
      assertThat(events.stream().filter(GenerationFeed.Final.class::isInstance)).hasSize(1);
      assertThat(((GenerationFeed.Final) events.getLast()).view().status()).isEqualTo("SUCCEEDED");
    }
    assertThat(resultCalls.get()).as("result reads").isEqualTo(1);
    assertThat(viewCalls.get()).as("final views").isEqualTo(1);
    assertThat(subscriptions.get()).isEqualTo(1);
    assertThat(subscriptionsClosed.get()).as("closed when the last left").isEqualTo(1);
    assertThat(shared.upstreamsOpen()).isZero();
  }

  /** One who joins mid-run gets the state as it is now, then only what is newer. */
  @Test
  void aFollowerJoiningMidRunGetsTheCurrentStateThenOnlyNewerProgress() {
    queryAnswers.countDown();
    GenerationFeed shared =
        new GenerationFeed(generations, countingBus, Duration.ofMillis(300), Duration.ofHours(1));
    Follower first = Follower.of(shared, 0);
    Awaitility.await().until(() -> first.got(GenerationFeed.Snapshot.class));
    publish(1);
    publish(2);
    publish(3);
    Follower late = Follower.of(shared, 0);
    Awaitility.await().until(() -> late.got(GenerationFeed.Snapshot.class));
    publish(4);
    Awaitility.await().until(() -> late.steps().contains(4) && first.steps().contains(4));
    GenerationFeed.Snapshot snapshot = (GenerationFeed.Snapshot) late.events().getFirst();
    assertThat(snapshot.view().step()).as("the current state").isEqualTo(3);
    assertThat(snapshot.view().eventId()).isEqualTo(3);
    assertThat(late.steps()).as("only newer progress").containsExactly(4);
    assertThat(first.steps()).containsExactly(1, 2, 3, 4);
    assertThat(subscriptions.get()).as("one bus subscription for both").isEqualTo(1);
    status.set(GenerationStatus.SUCCEEDED);
    result.complete(null);
    Awaitility.await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> first.done().getCount() == 0 && late.done().getCount() == 0);
    assertThat(first.events().getLast()).isInstanceOf(GenerationFeed.Final.class);
    assertThat(late.events().getLast()).isInstanceOf(GenerationFeed.Final.class);
    assertThat(resultCalls.get()).as("one wait on Temporal for both").isEqualTo(1);
  }

  /**
   * The upstream lives as long as someone follows: the last to leave closes the bus subscription
   * and stops the end checks; the next follower gets a new one.
   */
  @Test
  void theUpstreamClosesWhenTheLastFollowerLeavesAndIsMadeAgainForTheNext() {
    bus.endsPublishedHere();
    queryAnswers.countDown();
    GenerationFeed shared =
        new GenerationFeed(generations, countingBus, Duration.ofMillis(300), Duration.ofMillis(50));
    Follower one = Follower.of(shared, 0);
    Follower two = Follower.of(shared, 0);
    Awaitility.await()
        .until(
            () -> one.got(GenerationFeed.Snapshot.class) && two.got(GenerationFeed.Snapshot.class));
    one.it().dispose();
    assertThat(subscriptionsClosed.get()).as("one follower is left").isZero();
    two.it().dispose();
    assertThat(subscriptionsClosed.get()).as("the last one left").isEqualTo(1);
    assertThat(shared.upstreamsOpen()).isZero();
    int checks = runningCalls.get();
    Awaitility.await().pollDelay(Duration.ofMillis(300)).until(() -> true);
    assertThat(runningCalls.get()).as("no end checks once nobody follows").isEqualTo(checks);

    Follower three = Follower.of(shared, 0);
    assertThat(subscriptions.get()).as("a new upstream").isEqualTo(2);
    Awaitility.await().until(() -> three.got(GenerationFeed.Snapshot.class));
    publish(1);
    Awaitility.await().until(() -> three.steps().contains(1));
    status.set(GenerationStatus.SUCCEEDED);
    result.complete(null);
    bus.publishEnd(ID);
    Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> three.done().getCount() == 0);
    assertThat(three.events().getLast()).isInstanceOf(GenerationFeed.Final.class);
    assertThat(subscriptionsClosed.get()).isEqualTo(2);
    assertThat(shared.upstreamsOpen()).isZero();
  }

  /** One who comes after the end, while others still hold the upstream, gets the end at once. */
  @Test
  void aFollowerArrivingAfterTheEndGetsTheFinalStateAtOnce() {
    bus.endsPublishedHere();
    queryAnswers.countDown();
    GenerationFeed shared =
        new GenerationFeed(generations, countingBus, Duration.ofMillis(300), Duration.ofHours(1));
    // a follower that never finishes reading keeps the upstream open past the end
    List<GenerationFeed.Event> slow = new CopyOnWriteArrayList<>();
    Disposable held =
        shared
            .follow(ID, 0)
            .subscribeWith(
                new reactor.core.publisher.BaseSubscriber<GenerationFeed.Event>() {
                  @Override
                  protected void hookOnSubscribe(org.reactivestreams.Subscription s) {
                    s.request(1);
                  }

                  @Override
                  protected void hookOnNext(GenerationFeed.Event event) {
                    slow.add(event);
                  }
                });
    Awaitility.await().until(() -> !slow.isEmpty());
    status.set(GenerationStatus.SUCCEEDED);
    result.complete(null);
    bus.publishEnd(ID);
    Awaitility.await().until(() -> viewCalls.get() == 1);
    StepVerifier.create(shared.follow(ID, 0))
        .assertNext(
            e -> assertThat(((GenerationFeed.Final) e).view().status()).isEqualTo("SUCCEEDED"))
        .expectComplete()
        .verify(Duration.ofSeconds(5));
    assertThat(subscriptions.get()).as("the same upstream").isEqualTo(1);
    assertThat(resultCalls.get()).isEqualTo(1);
    held.dispose();
    assertThat(shared.upstreamsOpen()).isZero();
  }
}
