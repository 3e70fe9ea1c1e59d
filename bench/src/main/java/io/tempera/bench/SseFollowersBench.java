package io.tempera.bench;

import static io.tempera.bench.BenchSystem.percentile;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.embedded.EmbeddedApplication;
import io.tempera.progress.ProgressBus;
import io.tempera.progress.ProgressEvent;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * Many followers of one generation (#16): the embedded default (API, worker, in-process Temporal,
 * testkit ComfyUI in this JVM, its default 2 slots) runs one generation of the {@code
 * progress-ticker-light} script backend (2 Hz); N SSE clients over real HTTP ({@code GET
 * /api/generations/{id}/events} with an operator key, JDK HttpClient, one connection each) follow
 * it from its start. Once all of them have the generation's state, it runs to its end; each
 * client's terminal event is timed from the moment the workflow ended — the worker's end notice on
 * the progress bus (taken in its workflow code as the workflow returns, this JVM's clock), so the
 * figure includes the close, the API's read of the end and the delivery. Also: the process's live
 * platform threads (the bench's HTTP client's 3 among them) and its heap, before the followers
 * came, with all of them following, at the most during the end, and after they left.
 *
 * <p>Two ways to arrive: <em>held</em>, the followers connect (64 at a time) and all hold the
 * generation's state before it ends; <em>together</em>, all connect at once as the generation
 * starts, and it ends a few seconds later, while some may still wait for their first answer (the
 * state queries of many arriving together). Rounds alternate a baseline of 1 follower, N held and N
 * together, so every figure has its baseline from the same run. Target (#16): all N get the
 * terminal event within 1 s of the end.
 *
 * <p>Args: [followers, default 1000] [rounds, default 2] [generation seconds when held, default 30]
 * [generation seconds when together, default 5]. Quick mode: {@code 100 1 10 3}.
 */
public final class SseFollowersBench {

  private static final String TITLE = "SSE followers of one generation";
  private static final String RESULT = "sse-followers.md";
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The bench's own client threads (2, and its HttpClient's selector). */
  private static final String CLIENT_THREADS = "bench-sse-client-";

  public static void main(String[] args) throws Exception {
    BenchSystem.reportingFailure(RESULT, TITLE, () -> run(args));
  }

  static void run(String[] args) throws Exception {
    int followers = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 2;
    int seconds = args.length > 2 ? Integer.parseInt(args[2]) : 30;
    int togetherSeconds = args.length > 3 ? Integer.parseInt(args[3]) : 5;

    Path tmp = Files.createTempDirectory("tempera-followers");
    Path keysFile = BenchApi.keysFile(tmp.resolve("outputs"));
    String key = BenchApi.operatorKey(keysFile);
    ConfigurableApplicationContext app =
        new SpringApplicationBuilder(EmbeddedApplication.class)
            .properties("spring.config.name=tempera-embedded")
            .run(
                "--server.port=0",
                "--tempera.embedded.comfyui-port=0",
                "--tempera.embedded.comfyui-data=" + tmp.resolve("comfyui"),
                "--tempera.output-root=" + tmp.resolve("outputs"),
                "--tempera.security.keys-file=" + keysFile,
                "--tempera.templates-dir=bench/templates",
                "--tempera.worker.script-runs=" + tmp.resolve("script-runs"),
                "--logging.level.root=WARN");
    AtomicInteger clientThread = new AtomicInteger();
    ExecutorService clientPool =
        Executors.newFixedThreadPool(
            2, r -> new Thread(r, CLIENT_THREADS + clientThread.incrementAndGet()));
    StringBuilder rows = new StringBuilder();
    List<String> verdicts = new ArrayList<>();
    try {
      int port = ((WebServerApplicationContext) app).getWebServer().getPort();
      Bench bench =
          new Bench("http://127.0.0.1:" + port, key, app.getBean(ProgressBus.class), clientPool);
      // warm-up: JIT, pools, the first script run; not reported
      bench.round(Math.min(50, followers), Math.min(seconds, 10), false);
      for (int round = 1; round <= rounds; round++) {
        rows.append(bench.round(1, seconds, false).row(round));
        for (boolean together : List.of(false, true)) {
          Round result = bench.round(followers, together ? togetherSeconds : seconds, together);
          rows.append(result.row(round));
          verdicts.add(result.verdict(round));
        }
      }
    } finally {
      app.close();
      clientPool.shutdownNow();
    }
    BenchSystem.write(
        RESULT,
        "# "
            + TITLE
            + "\n"
            + BenchSystem.provenance()
            + String.format(
                Locale.ROOT,
                "setup: `SseFollowersBench %d %d %d %d` — the embedded default in this JVM (API, worker"
                    + " with its default 2 slots, in-process Temporal test server, testkit ComfyUI;"
                    + " the in-process progress bus, which carries ends); one generation of the"
                    + " `progress-ticker-light` script backend, 2 progress lines/s for %d s; the"
                    + " followers are SSE clients over real HTTP on loopback (JDK HttpClient,"
                    + " HTTP/1.1, a connection each, an operator key as bearer token, lines read"
                    + " asynchronously on 2 client threads). held: they connect 64 at a time and"
                    + " all hold the state before the generation ends; together: all %d connect at"
                    + " once as a generation of %d s starts, which may end before some got their"
                    + " first answer. Rounds alternate a baseline of 1 follower, %d held and %d"
                    + " together; a warm-up round of %d first, not reported.%n%n",
                followers,
                rounds,
                seconds,
                togetherSeconds,
                seconds,
                followers,
                togetherSeconds,
                followers,
                followers,
                Math.min(50, followers))
            + "terminal-event latency: from the worker's end notice (published by the workflow as"
            + " it returns) to the `succeeded` event's arrival at each client. all answered"
            + " after: from the generation's start until every follower had its first answer (the"
            + " state, or the end). threads:"
            + " the process's live platform threads (the bench's HTTP client's among them: 2 pool"
            + " threads, and its selector until it is closed with its connections, before after);"
            + " before ="
            + " before the followers connected, following = all of them holding the state, peak ="
            + " the most sampled every 20 ms from the end until the last terminal event, after ="
            + " once all connections closed (1 s later). heap: used, after a GC, before the"
            + " followers connected and after they left; while following without a GC.\n\n"
            + "| round | followers | all answered after s | terminal events | p50 ms | p99 ms |"
            + " max ms | progress events per follower | threads before / following / peak / after |"
            + " heap MB before / following / after |\n"
            + "|---|---|---|---|---|---|---|---|---|---|\n"
            + rows
            + "\n"
            + String.join("\n", verdicts)
            + "\n");
  }

  /** One round's figures. */
  private record Round(
      int followers,
      boolean together,
      int stateBeforeEnd,
      double followingAfter,
      int terminal,
      Map<String, Integer> statuses,
      List<Double> ms,
      double progressPerFollower,
      int threadsBefore,
      int threadsFollowing,
      int threadsPeak,
      int threadsAfter,
      long heapBefore,
      long heapFollowing,
      long heapAfter) {

    String row(int round) {
      return String.format(
          Locale.ROOT,
          "| %d | %s | %.1f | %d of %d %s | %.0f | %.0f | **%.0f** | %.1f | %d / %d / %d / %d | %d /"
              + " %d / %d |%n",
          round,
          arrival(),
          followingAfter,
          terminal,
          followers,
          statuses,
          ms.isEmpty() ? Double.NaN : percentile(ms, 50),
          ms.isEmpty() ? Double.NaN : percentile(ms, 99),
          ms.isEmpty() ? Double.NaN : percentile(ms, 100),
          progressPerFollower,
          threadsBefore,
          threadsFollowing,
          threadsPeak,
          threadsAfter,
          heapBefore,
          heapFollowing,
          heapAfter);
    }

    /** How many followed, and how they came. */
    String arrival() {
      if (followers == 1) {
        return "1";
      }
      return together
          ? String.format(
              Locale.ROOT,
              "%d together (%d with the state before the end)",
              followers,
              stateBeforeEnd)
          : followers + " held";
    }

    boolean met() {
      return terminal == followers && !ms.isEmpty() && percentile(ms, 100) <= 1000;
    }

    String verdict(int round) {
      return String.format(
          Locale.ROOT,
          "target (#16): all %d followers get the terminal event within 1 s of the end —"
              + " round %d, %s: %s (%d of %d got it; max %.0f ms, p99 %.0f ms)",
          followers,
          round,
          together ? "together" : "held",
          met() ? "met" : "MISSED",
          terminal,
          followers,
          ms.isEmpty() ? Double.NaN : percentile(ms, 100),
          ms.isEmpty() ? Double.NaN : percentile(ms, 99));
    }
  }

  /** The system under test and the client that follows it. */
  private record Bench(String base, String key, ProgressBus bus, ExecutorService clientPool) {

    /**
     * One generation followed by {@code followers} clients, on a client of its own: closed with its
     * connections at the end, so what is left after is the server's.
     */
    Round round(int followers, int seconds, boolean together) throws Exception {
      try (HttpClient http =
          HttpClient.newBuilder()
              .version(HttpClient.Version.HTTP_1_1)
              .executor(clientPool)
              .connectTimeout(Duration.ofSeconds(10))
              .build()) {
        return round(http, followers, seconds, together);
      }
    }

    private Round round(HttpClient http, int followers, int seconds, boolean together)
        throws Exception {
      long heapBefore = heapAfterGc();
      int threadsBefore = serverThreads();
      String id = start(http, seconds);
      long startedAt = System.nanoTime();
      AtomicLong endedAt = new AtomicLong();
      CountDownLatch ended = new CountDownLatch(1);
      AutoCloseable notice =
          bus.subscribe(
              id,
              event -> {
                if (ProgressEvent.ENDED.equals(event.type()) && endedAt.get() == 0) {
                  endedAt.set(System.nanoTime());
                  ended.countDown();
                }
              });
      CountDownLatch holdState = new CountDownLatch(followers);
      CountDownLatch done = new CountDownLatch(followers);
      // held: 64 at a time, no accept-queue overflow on loopback; together: all at once
      Semaphore connecting = new Semaphore(together ? followers : 64);
      List<Follower> all = new ArrayList<>();
      for (int i = 0; i < followers; i++) {
        connecting.acquire();
        Follower follower = new Follower(holdState, done, connecting);
        all.add(follower);
        http.sendAsync(
                BenchApi.request(URI.create(base + "/api/generations/" + id + "/events"), key)
                    .header("Accept", "text/event-stream")
                    .build(),
                HttpResponse.BodyHandlers.fromLineSubscriber(follower))
            .whenComplete((response, error) -> follower.closed(error));
      }
      if (!holdState.await(60, TimeUnit.SECONDS)) {
        throw new IllegalStateException(
            (followers - holdState.getCount())
                + " of "
                + followers
                + " followers got the generation's state within 60 s");
      }
      for (Follower follower : all) {
        if (!follower.followed.get()) {
          throw new IllegalStateException("a follower could not follow: " + follower.failure);
        }
      }
      if (!together && ended.getCount() == 0) {
        throw new IllegalStateException(
            "the generation ended before all followers had connected: make it longer");
      }
      double followingAfter = (System.nanoTime() - startedAt) / 1e9;
      int threadsFollowing = serverThreads();
      long heapFollowing = heapUsedMb();
      if (!ended.await(seconds + 60L, TimeUnit.SECONDS)) {
        throw new IllegalStateException(
            "the generation did not end within " + (seconds + 60) + " s");
      }
      int threadsPeak = threadsFollowing;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!done.await(20, TimeUnit.MILLISECONDS) && System.nanoTime() < deadline) {
        threadsPeak = Math.max(threadsPeak, serverThreads());
      }
      threadsPeak = Math.max(threadsPeak, serverThreads());
      notice.close();
      http.shutdownNow();
      http.awaitTermination(Duration.ofSeconds(10));
      Thread.sleep(1000); // the connections' closing reaches the server
      int threadsAfter = serverThreads();
      long heapAfter = heapAfterGc();

      List<Double> ms = new ArrayList<>();
      Map<String, Integer> statuses = new TreeMap<>();
      long progress = 0;
      int stateBeforeEnd = 0;
      for (Follower follower : all) {
        progress += follower.progress.get();
        if (follower.stateAt != 0 && follower.stateAt < endedAt.get()) {
          stateBeforeEnd++;
        }
        if (follower.terminalAt != 0) {
          ms.add((follower.terminalAt - endedAt.get()) / 1e6);
          statuses.merge(follower.terminal, 1, Integer::sum);
        } else {
          statuses.merge(follower.failure == null ? "none" : follower.failure, 1, Integer::sum);
        }
      }
      return new Round(
          followers,
          together,
          stateBeforeEnd,
          followingAfter,
          ms.size(),
          statuses,
          ms,
          (double) progress / followers,
          threadsBefore,
          threadsFollowing,
          threadsPeak,
          threadsAfter,
          heapBefore,
          heapFollowing,
          heapAfter);
    }

    /** Starts a generation that ticks at 2 Hz for {@code seconds}; its id. */
    private String start(HttpClient http, int seconds) throws Exception {
      String body =
          JSON.writeValueAsString(
              Map.of(
                  "functionId",
                  "progress-ticker-light",
                  "projectId",
                  "bench",
                  "nodeId",
                  "followed",
                  "requestId",
                  "followers-" + UUID.randomUUID(),
                  "parameters",
                  Map.of("hz", 2, "seconds", seconds)));
      HttpResponse<String> started =
          http.send(
              BenchApi.request(URI.create(base + "/api/generations"), key)
                  .header("content-type", "application/json")
                  .POST(HttpRequest.BodyPublishers.ofString(body))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      if (started.statusCode() != 202) {
        throw new IllegalStateException(
            "starting a generation failed: " + started.statusCode() + " " + started.body());
      }
      return JSON.readTree(started.body()).get("id").asText();
    }
  }

  /** One SSE client: the lines of its stream, read as they come. */
  private static final class Follower implements Flow.Subscriber<String> {

    private final CountDownLatch holdState;
    private final CountDownLatch done;
    private final Semaphore connecting;
    private final AtomicInteger progress = new AtomicInteger();
    private final AtomicBoolean answered = new AtomicBoolean();
    private final AtomicBoolean finished = new AtomicBoolean();

    /** It got the generation's state (or its end), as a follower does. */
    final AtomicBoolean followed = new AtomicBoolean();

    private String event = "";
    private volatile long terminalAt;
    private volatile long stateAt;
    private volatile String terminal;
    private volatile String failure;

    Follower(CountDownLatch holdState, CountDownLatch done, Semaphore connecting) {
      this.holdState = holdState;
      this.done = done;
      this.connecting = connecting;
    }

    @Override
    public void onSubscribe(Flow.Subscription subscription) {
      subscription.request(Long.MAX_VALUE);
    }

    @Override
    public void onNext(String line) {
      long now = System.nanoTime();
      if (line.startsWith("event:")) {
        event = line.substring(6).trim();
      } else if (line.startsWith("data:")) {
        switch (event) {
          case "state" -> {
            stateAt = now;
            followed.set(true);
            answered();
          }
          case "progress", "phase" -> progress.incrementAndGet();
          case "succeeded", "failed", "cancelled" -> {
            if (terminalAt == 0) {
              terminalAt = now;
              terminal = event;
              followed.set(true); // an end before any state is what a late follower gets
              answered();
              finished();
            }
          }
          default -> {
            // a keep-alive comment or an event this bench does not count
          }
        }
      }
    }

    /** The server answered this follower, or its stream ended: the next may connect. */
    private void answered() {
      if (answered.compareAndSet(false, true)) {
        holdState.countDown();
        connecting.release();
      }
    }

    private void finished() {
      if (finished.compareAndSet(false, true)) {
        done.countDown();
      }
    }

    /** The stream ended (or never opened). */
    void closed(Throwable error) {
      if (terminalAt == 0 && failure == null) {
        failure = error == null ? "closed without a terminal event" : error.toString();
      }
      answered();
      finished();
    }

    @Override
    public void onError(Throwable throwable) {
      closed(throwable);
    }

    @Override
    public void onComplete() {
      closed(null);
    }
  }

  /** Live platform threads of this process. */
  private static int serverThreads() {
    return ManagementFactory.getThreadMXBean().getThreadCount();
  }

  private static long heapUsedMb() {
    MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
    return memory.getHeapMemoryUsage().getUsed() / (1024 * 1024);
  }

  private static long heapAfterGc() throws InterruptedException {
    System.gc();
    Thread.sleep(200);
    return heapUsedMb();
  }
}
