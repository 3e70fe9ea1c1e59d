package io.tempera.activities.run;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.activities.TestJobs;
import io.tempera.backend.BackendProgress;
import io.tempera.generation.BackendJob;
import io.tempera.outputs.OutputStore;
import io.tempera.progress.InProcessProgressBus;
import io.tempera.progress.ProgressBus;
import io.tempera.progress.ProgressEvent;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The ETA a client sees: the backend's own estimates, queue time apart, never going up. */
class LiveProgressTest {

  @TempDir Path tmp;
  final AtomicLong now = new AtomicLong(1_000_000);
  final List<ProgressEvent> events = new ArrayList<>();
  final DurationHistory durations = new DurationHistory();
  LiveProgress live;

  @BeforeEach
  void setUp() throws Exception {
    ProgressBus bus = new InProcessProgressBus();
    bus.subscribe("gen-eta", events::add);
    BackendJob job =
        TestJobs.job(
            "gen-eta",
            "run-1",
            TestJobs.plan("gradio", new ObjectMapper().createObjectNode(), List.of(), 60));
    live =
        new LiveProgress(
            job, new AtomicReference<>(), new OutputStore(tmp), bus, durations, now::get);
  }

  static BackendProgress queued(int position, Double startsIn) {
    return new BackendProgress(0, null, null, position, "queued", null, false, null, startsIn);
  }

  static BackendProgress running(double fraction, Double eta) {
    return new BackendProgress(fraction, null, null, null, "running", null, false, eta, null);
  }

  ProgressEvent last() {
    return events.get(events.size() - 1);
  }

  void after(long seconds) {
    now.addAndGet(seconds * 1000);
  }

  static BackendProgress queuedUntil(int position, Double eta) {
    return new BackendProgress(0, null, null, position, "queued", null, false, eta, null);
  }

  @Test
  void gradiosEstimateToTheResultLessATypicalRunIsTheWait() {
    durations.record("f", "standard", 4);
    live.accept(queuedUntil(1, 10.0)); // Gradio's rank_eta: wait and run
    assertThat(last().etaSeconds()).isEqualTo(10);
    assertThat(last().startsInSeconds()).isEqualTo(6);
  }

  @Test
  void whileQueuedTheWaitIsToldApartAndTheEtaAddsATypicalRun() {
    durations.record("f", "standard", 10);
    live.accept(queued(3, 20.0));
    assertThat(last().startsInSeconds()).isEqualTo(20);
    assertThat(last().etaSeconds()).isEqualTo(30);
    assertThat(last().queuePosition()).isEqualTo(3);
    after(5);
    live.accept(queued(2, 40.0)); // the backend's estimate grew: the countdown does not
    assertThat(last().startsInSeconds()).isEqualTo(40);
    assertThat(last().etaSeconds()).isEqualTo(25);
    after(5);
    live.accept(running(0, 8.0)); // Gradio's process_starts: about 8 s
    assertThat(last().startsInSeconds()).isNull();
    assertThat(last().etaSeconds()).isEqualTo(8);
  }

  @Test
  void timeSpentQueuedNeverCountsAsTheRunsSpeed() {
    live.accept(queued(1, null));
    after(100); // a long wait in the backend's queue
    live.accept(running(0, null));
    after(2);
    live.accept(running(0.5, null)); // half done after 2 s of running
    assertThat(last().etaSeconds()).isEqualTo(2);
    after(1);
    live.accept(running(0.75, null));
    assertThat(last().etaSeconds()).isEqualTo(1);
    assertThat(live.elapsedSeconds()).isEqualTo(3.0);
  }

  @Test
  void theEtaNeverGoesUpUntilTheBackendStopsAnswering() {
    live.accept(running(0, 10.0));
    List<Integer> told = new ArrayList<>();
    told.add(last().etaSeconds());
    for (int i = 0; i < 8; i++) {
      after(2); // slower than the estimate: the speed says more and more time is left
      live.accept(running(0.05 + i * 0.01, null));
      told.add(last().etaSeconds());
    }
    for (int i = 1; i < told.size(); i++) {
      assertThat(told.get(i)).as("%s", told).isLessThanOrEqualTo(told.get(i - 1));
    }
    assertThat(told.get(told.size() - 1)).isEqualTo(1);
    live.accept(
        new BackendProgress(0, null, null, null, "waiting for it to come back", null, true));
    assertThat(last().etaSeconds()).as("nothing told holds while it does not answer").isNull();
    live.accept(running(0, 30.0));
    assertThat(last().etaSeconds()).isEqualTo(30);
  }
}
