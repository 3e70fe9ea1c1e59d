package io.tempera.slots;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;

class GpuTimeBookTest {

  static final long H = GpuTimeBook.HOUR;
  static final String DEMO = "0123456789";
  static final String OTHER = "abcdefabcd";

  static Lease lease(String id, String project) {
    return new Lease(id, "default", "gen-" + project + "-" + id, "h1", "q", 0, 0);
  }

  @Test
  void aHeldLeaseCountsToItsProjectUpToEachSettlingAndItsEndOnce() {
    GpuTimeBook book = new GpuTimeBook(GpuTime.none());
    long t = 10 * H;
    book.settle(List.of(lease("a", DEMO)), t);
    assertThat(book.gpuMillis(DEMO, 10 * H)).isZero();
    assertThat(book.countedUpTo(DEMO)).containsExactly(t);

    book.settle(List.of(lease("a", DEMO), lease("b", OTHER)), t + 4_000);
    assertThat(book.gpuMillis(DEMO, 10 * H)).isEqualTo(4_000);
    assertThat(book.gpuMillis(OTHER, 10 * H)).isZero();

    book.settle(List.of(lease("b", OTHER)), t + 10_000); // a ended
    assertThat(book.gpuMillis(DEMO, 10 * H)).isEqualTo(10_000);
    assertThat(book.gpuMillis(OTHER, 10 * H)).isEqualTo(6_000);
    assertThat(book.countedUpTo(DEMO)).isEmpty();
    assertThat(book.finishedLeases()).isEqualTo(1);
    assertThat(book.meanLeaseMillis()).isEqualTo(10_000.0);

    book.settle(List.of(lease("b", OTHER)), t + 10_000); // nothing new: nothing counted twice
    assertThat(book.gpuMillis(DEMO, 10 * H)).isEqualTo(10_000);
    assertThat(book.gpuMillis(OTHER, 10 * H)).isEqualTo(6_000);
  }

  @Test
  void timeAcrossAnHourIsSplitAndHoursBeforeTheLastAreForgotten() {
    GpuTimeBook book = new GpuTimeBook(GpuTime.none());
    book.settle(List.of(lease("a", DEMO)), 11 * H - 1_000);
    book.settle(List.of(), 11 * H + 3_000);
    assertThat(book.gpuMillis(DEMO, 10 * H)).isEqualTo(1_000);
    assertThat(book.gpuMillis(DEMO, 11 * H)).isEqualTo(3_000);
    assertThat(book.projectsIn(11 * H)).containsExactly(DEMO);

    book.settle(List.of(), 12 * H + 1);
    assertThat(book.gpuMillis(DEMO, 11 * H)).as("the last hour is kept").isEqualTo(3_000);
    assertThat(book.gpuMillis(DEMO, 10 * H)).isZero();
  }

  @Test
  void theBookCarriesAcrossContinueAsNewWithoutLosingOrRecountingTime() {
    GpuTimeBook book = new GpuTimeBook(GpuTime.none());
    book.settle(List.of(lease("a", DEMO)), 5 * H);
    book.settle(List.of(lease("a", DEMO)), 5 * H + 2_000);
    GpuTimeBook next = new GpuTimeBook(book.snapshot());
    next.settle(List.of(), 5 * H + 5_000);
    assertThat(next.gpuMillis(DEMO, 5 * H)).isEqualTo(5_000);
    assertThat(next.finishedLeases()).isEqualTo(1);
    assertThat(next.meanLeaseMillis()).isEqualTo(5_000.0);
  }

  @Test
  void theMeanLeaseLengthMovesTowardsNewLeases() {
    GpuTimeBook book = new GpuTimeBook(GpuTime.none());
    book.settle(List.of(lease("a", DEMO)), 0);
    book.settle(List.of(lease("b", DEMO)), 10_000);
    book.settle(List.of(), 30_000);
    // first 10 s, then 20 s weighed 0.2: 12 s
    assertThat(book.meanLeaseMillis()).isEqualTo(12_000.0);
  }

  @Test
  void theTimePerGrantIsMeasuredOnlyWhileTheLineWaitsAndCarriesAcross() {
    GpuTimeBook book = new GpuTimeBook(GpuTime.none());
    book.granted(1, 3, 1_000); // the first grant starts the clock
    assertThat(book.millisPerGrant()).isZero();
    book.granted(2, 1, 5_000); // two in 4 s
    assertThat(book.millisPerGrant()).isEqualTo(2_000.0);
    book.granted(0, 1, 6_000); // a loop that granted nothing changes nothing
    book.granted(1, 0, 7_000); // 2 s, weighed 0.05; the line is empty now
    assertThat(book.millisPerGrant()).isCloseTo(2_000.0, within(0.001));
    book.granted(0, 2, 60_000); // idle time never counts: waiting again, nothing granted yet
    book.granted(1, 1, 61_000);
    assertThat(book.millisPerGrant()).isCloseTo(2_000.0, within(0.001));
    book.granted(1, 1, 65_000); // 4 s, weighed 0.05
    assertThat(book.millisPerGrant()).isCloseTo(2_100.0, within(0.001));
    assertThat(new GpuTimeBook(book.snapshot()).millisPerGrant()).isEqualTo(book.millisPerGrant());
  }

  @Test
  void aHolderThatIsNoGenerationCountsToNoProject() {
    assertThat(GpuTimeBook.projectOf("gen-0123456789-req-1")).isEqualTo(DEMO);
    assertThat(GpuTimeBook.projectOf("gen-recorded-succeeded")).isEmpty();
    assertThat(GpuTimeBook.projectOf(null)).isEmpty();
  }
}
