package io.tempera.progress.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.tempera.progress.ProgressEvent;
import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Progress across hosts on a real redis-server (Debian's package; ./tempera test installs it): a
 * worker's bus publishes, API instances' buses follow.
 */
class RedisProgressBusTest {

  private Process redis;
  private int port;
  private final List<RedisProgressBus> buses = new ArrayList<>();

  @BeforeEach
  void startRedis() throws Exception {
    String server = io.tempera.testkit.fixtures.TestProcesses.redisServer();
    try (ServerSocket socket = new ServerSocket(0)) {
      port = socket.getLocalPort();
    }
    startRedis(server);
  }

  private void startRedis(String server) throws IOException {
    redis =
        new ProcessBuilder(
                server,
                "--port",
                Integer.toString(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no")
            .redirectErrorStream(true)
            .redirectOutput(new File("target/redis-" + port + ".log"))
            .start();
    await("redis-server listening on port " + port)
        .atMost(Duration.ofSeconds(10))
        .pollDelay(Duration.ZERO)
        .pollInterval(Duration.ofMillis(50))
        .until(() -> listens(port));
  }

  private static boolean listens(int port) {
    try (Socket ignored = new Socket(InetAddress.getLoopbackAddress(), port)) {
      return true;
    } catch (IOException notYet) {
      return false;
    }
  }

  @AfterEach
  void stop() {
    buses.forEach(RedisProgressBus::close);
    redis.destroyForcibly();
  }

  RedisProgressBus bus() {
    RedisProgressBus bus = new RedisProgressBus("redis://127.0.0.1:" + port, Duration.ofMinutes(5));
    buses.add(bus);
    return bus;
  }

  static ProgressEvent event(String id, double progress, String message) {
    return new ProgressEvent(
        id,
        0,
        ProgressEvent.PROGRESS,
        "GENERATING",
        progress,
        1,
        10,
        null,
        message,
        System.currentTimeMillis(),
        3,
        null);
  }

  @Test
  void anAppStartedBeforeRedisWaitsForItInsteadOfFailing() throws Exception {
    redis.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    await().until(() -> !listens(port));
    Thread later =
        Thread.ofVirtual()
            .start(() -> {
              try {
                Thread.sleep(1_500);
                startRedis(io.tempera.testkit.fixtures.TestProcesses.redisServer());
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
            });
    RedisProgressBus early = bus(); // returns once Redis answers
    later.join();
    RedisProgressBus other = bus();
    LinkedBlockingQueue<ProgressEvent> received = new LinkedBlockingQueue<>();
    early.subscribe("gen-late", received::add);
    other.publish(event("gen-late", 0.5, "after a late Redis"));
    ProgressEvent got = received.poll(10, TimeUnit.SECONDS);
    assertThat(got).as("an event through the bus that waited for Redis").isNotNull();
    assertThat(got.message()).isEqualTo("after a late Redis");
  }

  @Test
  void eventsPublishedOnOneHostReachSubscribersOnAnotherInOrder() throws Exception {
    RedisProgressBus worker = bus();
    RedisProgressBus apiA = bus();
    RedisProgressBus apiB = bus();
    LinkedBlockingQueue<ProgressEvent> onA = new LinkedBlockingQueue<>();
    List<ProgressEvent> onB = new CopyOnWriteArrayList<>();
    apiA.subscribe("gen-1", onA::add);
    AutoCloseable bSubscription = apiB.subscribe("gen-1", onB::add);
    apiA.subscribe("gen-2", e -> onA.add(e));

    for (int i = 1; i <= 5; i++) {
      ProgressEvent published =
          worker.publish(event("gen-1", i / 10.0, "step \"" + i + "\" {\"seq\":0,}"));
      assertThat(published.seq()).isEqualTo(i);
    }
    List<ProgressEvent> received = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      received.add(onA.poll(5, TimeUnit.SECONDS));
    }
    assertThat(received).extracting(ProgressEvent::seq).containsExactly(1L, 2L, 3L, 4L, 5L);
    assertThat(received.get(2).message())
        .as("quotes in messages survive")
        .isEqualTo("step \"3\" {\"seq\":0,}");
    assertThat(received.get(0).etaSeconds()).isEqualTo(3);

    assertThat(apiB.latest("gen-1")).hasValueSatisfying(e -> assertThat(e.seq()).isEqualTo(5));
    await("five events on the second API")
        .atMost(Duration.ofSeconds(5))
        .until(() -> onB.size() >= 5);
    assertThat(onB).hasSize(5);

    bSubscription.close();
    worker.publish(event("gen-1", 0.9, "after unsubscribe"));
    assertThat(onA.poll(5, TimeUnit.SECONDS).seq()).isEqualTo(6);
    await("no delivery after unsubscribe")
        .during(Duration.ofMillis(200))
        .atMost(Duration.ofSeconds(5))
        .until(() -> onB.size() == 5);

    worker.publish(event("gen-2", 0.5, "other generation"));
    ProgressEvent other = onA.poll(5, TimeUnit.SECONDS);
    assertThat(other.generationId()).isEqualTo("gen-2");
    assertThat(other.seq()).as("each generation counts on its own").isEqualTo(1);
  }

  @Test
  void aRedisOutageNeverFailsOrBlocksThePublisher() {
    RedisProgressBus worker = bus();
    redis.destroyForcibly();
    long start = System.nanoTime();
    ProgressEvent published = worker.publish(event("gen-down", 0.5, "while Redis is down"));
    long millis = (System.nanoTime() - start) / 1_000_000;
    assertThat(published.seq()).isZero();
    assertThat(millis).as("bounded by the 1 s command timeout").isLessThan(5_000);
    assertThat(worker.latest("gen-down")).isEmpty();
  }

  @Test
  void publishToDeliverLatencyIsMeasured() throws Exception {
    RedisProgressBus worker = bus();
    RedisProgressBus api = bus();
    LinkedBlockingQueue<Long> latencies = new LinkedBlockingQueue<>();
    api.subscribe(
        "gen-latency", e -> latencies.add(System.nanoTime() - Long.parseLong(e.message())));
    for (int i = 0; i < 1000; i++) {
      worker.publish(
          new ProgressEvent(
              "gen-latency",
              0,
              ProgressEvent.PROGRESS,
              "GENERATING",
              i / 1000.0,
              null,
              null,
              null,
              Long.toString(System.nanoTime()),
              System.currentTimeMillis(),
              null,
              null));
    }
    List<Long> all = new ArrayList<>();
    for (int i = 0; i < 1000; i++) {
      Long latency = latencies.poll(5, TimeUnit.SECONDS);
      assertThat(latency).as("event %d delivered", i).isNotNull();
      all.add(latency);
    }
    Collections.sort(all);
    System.out.printf(
        "redis progress bus publish->deliver: p50 %.2f ms, p99 %.2f ms over %d events%n",
        all.get(500) / 1e6, all.get(989) / 1e6, all.size());
    assertThat(all).hasSize(1000);
  }

  /**
   * A worker's notice that a generation ended reaches an API on another host; it is not progress.
   */
  @Test
  void theEndOfAGenerationReachesAnotherHostWithoutBecomingItsLatestProgress() throws Exception {
    RedisProgressBus worker = bus();
    RedisProgressBus api = bus();
    LinkedBlockingQueue<ProgressEvent> received = new LinkedBlockingQueue<>();
    api.subscribe("gen-end", received::add);
    assertThat(api.carriesEnds()).isTrue();

    worker.publish(event("gen-end", 0.5, "half"));
    worker.publishEnd("gen-end");

    assertThat(received.poll(5, TimeUnit.SECONDS).type()).isEqualTo(ProgressEvent.PROGRESS);
    ProgressEvent end = received.poll(5, TimeUnit.SECONDS);
    assertThat(end.type()).isEqualTo(ProgressEvent.ENDED);
    assertThat(end.generationId()).isEqualTo("gen-end");
    assertThat(api.latest("gen-end"))
        .hasValueSatisfying(e -> assertThat(e.type()).isEqualTo(ProgressEvent.PROGRESS));
  }

  /**
   * A follower busy with one generation's event holds no other generation's events: listeners run
   * off the Redis client's I/O thread, each channel in its own lane, still in order.
   */
  @Test
  void aBusyListenerHoldsNoOtherGenerationsEventsAndEachKeepsItsOrder() throws Exception {
    RedisProgressBus worker = bus();
    RedisProgressBus api = bus();
    java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
    List<Long> onSlow = new CopyOnWriteArrayList<>();
    List<Long> onOther = new CopyOnWriteArrayList<>();
    api.subscribe(
        "gen-slow",
        e -> {
          onSlow.add(e.seq());
          try {
            release.await(); // a follower stuck on its first event
          } catch (InterruptedException interrupted) {
            Thread.currentThread().interrupt();
          }
        });
    api.subscribe("gen-other", e -> onOther.add(e.seq()));

    for (int i = 1; i <= 3; i++) {
      worker.publish(event("gen-slow", i / 10.0, "slow " + i));
    }
    for (int i = 1; i <= 200; i++) {
      worker.publish(event("gen-other", i / 200.0, "other " + i));
    }
    await("the other generation's 200 events while the first's listener is stuck")
        .atMost(Duration.ofSeconds(10))
        .until(() -> onOther.size() >= 200);
    assertThat(onSlow).as("the stuck listener got its first event only").containsExactly(1L);
    assertThat(onOther)
        .as("in order")
        .containsExactlyElementsOf(
            java.util.stream.LongStream.rangeClosed(1, 200).boxed().toList());

    release.countDown();
    await("the stuck generation's remaining events, in order")
        .atMost(Duration.ofSeconds(10))
        .until(() -> onSlow.size() >= 3);
    assertThat(onSlow).containsExactly(1L, 2L, 3L);
  }
}
