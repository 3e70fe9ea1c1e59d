package io.tempera.bench;

import static io.tempera.bench.BenchSystem.percentile;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.embedded.EmbeddedApplication;
import io.tempera.progress.ProgressBus;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * The progress path of #13, in one run: worker→client latency at 100 concurrent generations each
 * reporting 20 Hz, over the canvas WebSocket and over SSE, with the in-process progress bus (the
 * embedded default) and through Redis ({@code tempera.progress.redis-url}, its own redis-server
 * from Debian's packages). Target: p99 < 50 ms in each of the four.
 *
 * <p>A bench of its own rather than more rounds of {@link ConcurrentProgressBench}: that one asks
 * whether every generation gets its updates often enough (≥ 10 Hz, 25 Hz reported, clients starting
 * over the socket they follow on), this one asks how late they arrive, on both transports and both
 * buses, so its clients start every generation alike (HTTP, all at once) and then follow it, and
 * the figures of the four paths stand side by side in one file.
 *
 * <p>Each bus runs on a fresh embedded system (API + worker + in-process Temporal test server, one
 * slot per generation), its transports measured in turn, each after a small warm-up round that is
 * not reported. A generation runs the {@code progress-ticker-light} script backend: a bash process
 * printing a progress line at the given rate with builtins only. Not {@code progress-ticker}: 100
 * Python interpreters starting at once took 21 s of CPU in a 10 s run on this 2-core machine, so
 * the figures measured the load generator starving the process (GC pauses of 0.3–3.5 s), not the
 * path; 100 bash tickers take 2.7 s. The worker stamps each event when it reads the line ({@code
 * timestamp}); the client, in the same JVM (one clock), takes the difference on receipt. Coalesced:
 * the gaps in a generation's event ids (the API sends a slow client only the latest). "All running"
 * counts only updates received while every generation was reporting (from the last one's first
 * update to the first one's last).
 *
 * <p>Args: [generations, default 100] [hz, default 20] [seconds, default 10] [generations per
 * WebSocket, default 10] [paths, default "inprocess-ws,inprocess-sse,redis-ws,redis-sse"]; {@code
 * --quick}: 10 generations for 2 s (the test command's quick stage: it asserts no timing, it fails
 * only when the setup fails or a generation does not end).
 */
public final class ProgressPathBench {

  static final String FILE = "progress-path.md";
  private static final String TITLE = "Progress path: worker to client, WebSocket and SSE";
  private static final double TARGET_P99_MS = 50;

  /** Updates received later than this after following began: past the follower's start. */
  private static final long SETTLED_AFTER_MILLIS = 2_000;

  private static final ObjectMapper JSON = new ObjectMapper();

  public static void main(String[] args) throws Exception {
    BenchSystem.reportingFailure(FILE, TITLE, () -> run(args));
  }

  static void run(String[] args) throws Exception {
    boolean quick = List.of(args).contains("--quick");
    List<String> rest = Stream.of(args).filter(a -> !a.startsWith("--")).toList();
    int generations = rest.size() > 0 ? Integer.parseInt(rest.get(0)) : quick ? 10 : 100;
    double hz = rest.size() > 1 ? Double.parseDouble(rest.get(1)) : 20;
    double seconds = rest.size() > 2 ? Double.parseDouble(rest.get(2)) : quick ? 2 : 10;
    int perSocket = rest.size() > 3 ? Integer.parseInt(rest.get(3)) : 10;
    List<String> paths =
        List.of(
            (rest.size() > 4 ? rest.get(4) : "inprocess-ws,inprocess-sse,redis-ws,redis-sse")
                .split(","));

    String loadBefore = loadAverage();
    List<Result> results = new ArrayList<>();
    Path tmp = Files.createTempDirectory("tempera-progress-path");
    JobQueueBench.Redis redis = null;
    try {
      // one system per bus, its transports measured on it in turn
      for (String busName :
          paths.stream().map(p -> p.substring(0, p.indexOf('-'))).distinct().toList()) {
        boolean viaRedis = busName.equals("redis");
        if (!viaRedis && !busName.equals("inprocess")) {
          throw new IllegalArgumentException("unknown bus " + busName);
        }
        if (viaRedis) {
          // as ./tempera runs it: Debian's redis-server (scripts/ensure-redis.sh installs it)
          redis = JobQueueBench.Redis.start(tmp.resolve("redis"));
        }
        List<String> transports =
            paths.stream()
                .filter(p -> p.startsWith(busName + "-"))
                .map(p -> p.substring(p.indexOf('-') + 1))
                .toList();
        for (String transport : transports) {
          if (!transport.equals("ws") && !transport.equals("sse")) {
            throw new IllegalArgumentException("unknown transport " + transport);
          }
        }
        results.addAll(
            measure(
                busName,
                transports,
                viaRedis ? redis : null,
                tmp.resolve(busName),
                generations,
                hz,
                seconds,
                perSocket));
      }
    } finally {
      if (redis != null) {
        redis.close();
      }
    }
    String loadAfter = loadAverage();
    BenchSystem.write(
        FILE,
        report(
            results,
            generations,
            hz,
            seconds,
            perSocket,
            quick,
            loadBefore,
            loadAfter,
            redis == null ? null : redis.version()));
    List<String> broken = results.stream().filter(r -> !r.complete()).map(Result::path).toList();
    if (!broken.isEmpty()) {
      // the figures are written, but a path whose generations did not all succeed fails the run
      throw new IllegalStateException("generations did not all succeed on " + broken);
    }
  }

  /**
   * One bus on a fresh embedded system: for each transport a warm-up round, then the measured one.
   */
  private static List<Result> measure(
      String busName,
      List<String> transports,
      JobQueueBench.Redis redis,
      Path dir,
      int generations,
      double hz,
      double seconds,
      int perSocket)
      throws Exception {
    Path keysFile = BenchApi.keysFile(dir.resolve("outputs"));
    String key = BenchApi.operatorKey(keysFile);
    List<String> props =
        new ArrayList<>(
            List.of(
                "--server.port=0",
                "--tempera.embedded.comfyui-port=0",
                "--tempera.embedded.comfyui-data=" + dir.resolve("comfyui"),
                "--tempera.output-root=" + dir.resolve("outputs"),
                "--tempera.security.keys-file=" + keysFile,
                "--tempera.templates-dir=bench/templates",
                "--tempera.worker.slots=" + generations,
                "--tempera.worker.script-runs=" + dir.resolve("script-runs"),
                "--tempera.canvas.max-followed-tasks=" + Math.max(500, generations),
                "--logging.level.root=WARN"));
    if (redis != null) {
      props.add("--tempera.progress.redis-url=" + redis.url());
    }
    ConfigurableApplicationContext app =
        new SpringApplicationBuilder(EmbeddedApplication.class)
            .properties("spring.config.name=tempera-embedded")
            .run(props.toArray(String[]::new));
    try {
      ProgressBus bus = app.getBean(ProgressBus.class);
      String busType = busType(bus);
      if (redis != null && !busType.equals("RedisProgressBus")
          || redis == null && busType.contains("Redis")) {
        throw new IllegalStateException(busName + " runs on the wrong progress bus: " + busType);
      }
      int port = ((WebServerApplicationContext) app).getWebServer().getPort();
      List<Result> results = new ArrayList<>();
      for (String transport : transports) {
        String path = busName + "-" + transport;
        // warm-up: JIT, thread pools, the first script runs; not reported
        round(path, transport, bus, port, key, Math.min(10, generations), hz, 2, perSocket);
        results.add(round(path, transport, bus, port, key, generations, hz, seconds, perSocket));
      }
      return results;
    } finally {
      app.close();
    }
  }

  /** Starts {@code generations} at once over HTTP and follows each until it ends. */
  private static Result round(
      String path,
      String transport,
      ProgressBus bus,
      int port,
      String key,
      int generations,
      double hz,
      double seconds,
      int perSocket)
      throws Exception {
    HttpClient http =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10))
            .build();
    Map<String, Generation> byTask = new ConcurrentHashMap<>();
    CountDownLatch done = new CountDownLatch(generations);
    List<WebSocket> sockets = new ArrayList<>();
    if (transport.equals("ws")) {
      for (int s = 0; s < Math.max(1, (generations + perSocket - 1) / perSocket); s++) {
        sockets.add(
            BenchApi.openSocket(
                http,
                URI.create("ws://127.0.0.1:" + port + "/ws"),
                new SocketFollower(byTask, done),
                key));
      }
    }
    long started = System.currentTimeMillis();
    List<Future<?>> followers = new ArrayList<>();
    java.util.Queue<Double> onBus = new java.util.concurrent.ConcurrentLinkedQueue<>();
    java.util.Queue<AutoCloseable> busSubscriptions =
        new java.util.concurrent.ConcurrentLinkedQueue<>();
    // platform threads: the clients must not share the server's virtual-thread carriers
    try (ExecutorService clients = Executors.newCachedThreadPool()) {
      for (int g = 0; g < generations; g++) {
        int index = g;
        followers.add(
            clients.submit(() -> {
              String id = start(http, port, key, index, hz, seconds);
              Generation generation = byTask.computeIfAbsent(id, k -> new Generation());
              synchronized (generation) {
                generation.subscribedAt = System.currentTimeMillis();
              }
              // a stage on the way: the API process's bus delivers the event to its subscribers
              busSubscriptions.add(
                  bus.subscribe(
                      id,
                      event -> {
                        if (event.step() != null) {
                          onBus.add(
                              (double) (System.currentTimeMillis() - event.timestampMillis()));
                        }
                      }));
              if (transport.equals("ws")) {
                WebSocket socket = sockets.get(index % sockets.size());
                String subscribe =
                    JSON.writeValueAsString(Map.of("type", "subscribe", "taskIds", List.of(id)));
                synchronized (socket) {
                  socket.sendText(subscribe, true).get(10, TimeUnit.SECONDS);
                }
              } else {
                followSse(http, port, key, id, generation, done);
              }
              return null;
            }));
      }
      boolean finished = done.await((long) (seconds * 10 + 180), TimeUnit.SECONDS);
      sockets.forEach(WebSocket::abort);
      for (Future<?> f : followers) {
        if (f.isDone() && !f.isCancelled()) {
          try {
            f.get();
          } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException("a client failed: " + e.getCause(), e.getCause());
          }
        }
      }
      if (!finished) {
        System.err.println(
            path
                + ": only "
                + (generations - done.getCount())
                + " of "
                + generations
                + " generations ended in time");
      }
      clients.shutdownNow();
    }
    long wall = System.currentTimeMillis() - started;
    for (AutoCloseable subscription : busSubscriptions) {
      subscription.close();
    }
    return Result.of(
        path,
        transport,
        busType(bus),
        byTask.values(),
        new ArrayList<>(onBus),
        generations,
        hz,
        seconds,
        wall);
  }

  /** POST /api/generations; the generation's id. */
  private static String start(
      HttpClient http, int port, String key, int index, double hz, double seconds)
      throws IOException, InterruptedException {
    String body =
        JSON.writeValueAsString(
            Map.of(
                "functionId",
                "progress-ticker-light",
                "projectId",
                "bench",
                "nodeId",
                "n" + index,
                "requestId",
                "path-" + UUID.randomUUID(),
                "parameters",
                Map.of("hz", hz, "seconds", seconds)));
    HttpResponse<String> response =
        http.send(
            BenchApi.request(URI.create("http://127.0.0.1:" + port + "/api/generations"), key)
                .header("Content-Type", "application/json")
                .timeout(Duration.ofSeconds(60))
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    if (response.statusCode() != 202) {
      throw new IllegalStateException(
          "start refused: " + response.statusCode() + " " + response.body());
    }
    return JSON.readTree(response.body()).get("id").asText();
  }

  /** Reads a generation's server-sent events until its terminal event. */
  private static void followSse(
      HttpClient http, int port, String key, String id, Generation g, CountDownLatch done)
      throws Exception {
    HttpResponse<InputStream> response =
        http.send(
            BenchApi.request(
                    URI.create("http://127.0.0.1:" + port + "/api/generations/" + id + "/events"),
                    key)
                .header("Accept", "text/event-stream")
                .GET()
                .build(),
            HttpResponse.BodyHandlers.ofInputStream());
    if (response.statusCode() != 200) {
      throw new IllegalStateException("events of " + id + ": HTTP " + response.statusCode());
    }
    try (InputStream in = response.body()) {
      String event = null;
      String eventId = null;
      StringBuilder data = new StringBuilder();
      Iterator<String> lines = lines(in);
      while (lines.hasNext()) {
        String line = lines.next();
        long now = System.currentTimeMillis();
        if (line.isEmpty()) {
          if (event != null && data.length() > 0) {
            boolean terminal = g.onSse(event, eventId, JSON.readTree(data.toString()), now);
            if (terminal) {
              done.countDown();
              return;
            }
          }
          event = null;
          eventId = null;
          data.setLength(0);
        } else if (line.startsWith("event:")) {
          event = line.substring(6).strip();
        } else if (line.startsWith("id:")) {
          eventId = line.substring(3).strip();
        } else if (line.startsWith("data:")) {
          data.append(line.substring(5));
        }
      }
    }
    throw new IllegalStateException("the event stream of " + id + " closed before its end");
  }

  /** The stream's lines as they arrive (no read-ahead beyond what the socket delivered). */
  private static Iterator<String> lines(InputStream in) {
    java.io.BufferedReader reader =
        new java.io.BufferedReader(new java.io.InputStreamReader(in, StandardCharsets.UTF_8));
    return reader.lines().iterator();
  }

  private static String loadAverage() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).strip();
    } catch (IOException e) {
      return "unknown";
    }
  }

  /** What one generation's follower saw. */
  static final class Generation {
    final List<Long> arrivals = new ArrayList<>();
    final List<Double> latencies = new ArrayList<>();
    long subscribedAt;
    long lastEventId;
    long gaps;
    boolean ended;
    boolean succeeded;
    String failureCode;

    /** One progress update with a step: its receipt and its lateness. */
    private void update(long eventId, long timestamp, long now) {
      if (lastEventId > 0 && eventId > lastEventId + 1) gaps += eventId - lastEventId - 1;
      lastEventId = Math.max(lastEventId, eventId);
      arrivals.add(now);
      latencies.add((double) (now - timestamp));
    }

    /** An SSE event; true when it was the terminal one. */
    synchronized boolean onSse(String event, String eventId, JsonNode data, long now) {
      switch (event) {
        case "progress" -> {
          if (data.has("step"))
            update(Long.parseLong(eventId), data.get("timestamp").asLong(), now);
          else lastEventId = Math.max(lastEventId, Long.parseLong(eventId));
        }
        case "phase", "preview" -> lastEventId = Math.max(lastEventId, Long.parseLong(eventId));
        case "state" -> lastEventId = Math.max(lastEventId, data.path("eventId").asLong());
        case "succeeded", "failed", "cancelled" -> {
          ended = true;
          succeeded = event.equals("succeeded");
          failureCode = data.path("error").path("code").asText(event.toUpperCase(Locale.ROOT));
          return true;
        }
        default -> {}
      }
      return false;
    }

    /** A canvas message; true when it was the terminal one. */
    synchronized boolean onCanvas(String type, JsonNode m, long now) {
      switch (type) {
        case "task_progress" -> {
          if (m.has("step")) update(m.get("eventId").asLong(), m.get("timestamp").asLong(), now);
          else lastEventId = Math.max(lastEventId, m.get("eventId").asLong());
        }
        case "task_state" ->
            lastEventId = Math.max(lastEventId, m.path("state").path("eventId").asLong());
        case "task_success", "task_failed" -> {
          if (ended) return false;
          ended = true;
          succeeded = type.equals("task_success");
          failureCode = m.path("code").asText(null);
          return true;
        }
        default -> {}
      }
      return false;
    }
  }

  /** Reads one socket's messages and files them by task. */
  private static final class SocketFollower extends JsonSocketListener {
    private final Map<String, Generation> byTask;
    private final CountDownLatch done;

    SocketFollower(Map<String, Generation> byTask, CountDownLatch done) {
      this.byTask = byTask;
      this.done = done;
    }

    @Override
    void onMessage(JsonNode m, long now) {
      String taskId = m.path("taskId").asText(null);
      if (taskId != null
          && byTask
              .computeIfAbsent(taskId, id -> new Generation())
              .onCanvas(m.path("type").asText(), m, now)) {
        done.countDown();
      }
    }
  }

  /** One path's figures. */
  record Result(
      String path,
      String transport,
      String bus,
      int generations,
      int succeeded,
      Map<String, Integer> failures,
      long reported,
      long delivered,
      long coalesced,
      List<Double> latencies,
      List<Double> onBus,
      List<Double> allRunningLatencies,
      List<Double> settledLatencies,
      List<Double> rates,
      double fullWindowSeconds,
      double wallSeconds) {

    boolean complete() {
      return succeeded == generations && !latencies.isEmpty();
    }

    static Result of(
        String path,
        String transport,
        String bus,
        java.util.Collection<Generation> seen,
        List<Double> onBus,
        int generations,
        double hz,
        double seconds,
        long wallMillis) {
      List<Double> latencies = new ArrayList<>();
      List<Double> rates = new ArrayList<>();
      List<long[]> windows = new ArrayList<>();
      Map<String, Integer> failures = new java.util.TreeMap<>();
      int succeeded = 0;
      long delivered = 0;
      long coalesced = 0;
      for (Generation g : seen) {
        synchronized (g) {
          if (g.succeeded) succeeded++;
          else failures.merge(g.ended ? g.failureCode : "NOT_ENDED", 1, Integer::sum);
          delivered += g.arrivals.size();
          coalesced += g.gaps;
          latencies.addAll(g.latencies);
          if (g.arrivals.size() > 1) {
            long first = g.arrivals.get(0);
            long last = g.arrivals.get(g.arrivals.size() - 1);
            rates.add((g.arrivals.size() - 1) / ((last - first) / 1000.0));
            windows.add(new long[] {first, last});
          } else {
            rates.add(0.0);
          }
        }
      }
      // while every generation was reporting: from the last first update to the first last one
      long from = windows.stream().mapToLong(w -> w[0]).max().orElse(0);
      long to = windows.stream().mapToLong(w -> w[1]).min().orElse(0);
      List<Double> allRunning = new ArrayList<>();
      List<Double> settled = new ArrayList<>();
      for (Generation g : seen) {
        synchronized (g) {
          for (int i = 0; i < g.arrivals.size(); i++) {
            if (g.arrivals.get(i) - g.subscribedAt > SETTLED_AFTER_MILLIS) {
              settled.add(g.latencies.get(i));
            }
          }
        }
      }
      if (windows.size() == generations && to > from) {
        for (Generation g : seen) {
          synchronized (g) {
            for (int i = 0; i < g.arrivals.size(); i++) {
              long at = g.arrivals.get(i);
              if (at >= from && at <= to) allRunning.add(g.latencies.get(i));
            }
          }
        }
      }
      return new Result(
          path,
          transport,
          bus,
          generations,
          succeeded,
          failures,
          (long) (hz * seconds) * generations,
          delivered,
          coalesced,
          latencies,
          onBus,
          allRunning,
          settled,
          rates,
          Math.max(0, to - from) / 1000.0,
          wallMillis / 1000.0);
    }

    String verdict() {
      if (!complete()) return "FAILED";
      return percentile(latencies, 99) < TARGET_P99_MS ? "met" : "NOT met";
    }
  }

  private static String report(
      List<Result> results,
      int generations,
      double hz,
      double seconds,
      int perSocket,
      boolean quick,
      String loadBefore,
      String loadAfter,
      String redisVersion) {
    StringBuilder r = new StringBuilder();
    r.append("# ").append(TITLE).append(quick ? " (quick mode)" : "").append('\n');
    r.append(BenchSystem.provenance());
    r.append(
        String.format(
            Locale.ROOT,
            """
            load average (1, 5, 15 min; runnable/all; last pid) before: %s, after: %s
            target (#13): worker→client p99 < %.0f ms at 100 concurrent generations each reporting 20 Hz, over SSE and
            WebSocket, in-process and through Redis
            setup: for each bus a fresh embedded system (API + worker + in-process Temporal test server, %d slots) in
            this JVM, its transports measured in turn; %d generations of the `progress-ticker-light` script backend
            (bash builtins: a local process per generation that costs little CPU) started at once over HTTP (POST
            /api/generations), each reporting %.0f Hz for %.0f s (%d updates); each followed as soon as it is accepted:
            over the canvas WebSocket (`subscribe`, %d generations per socket) or over SSE (GET
            /api/generations/{id}/events, one stream each). Latency: the worker's event timestamp (taken when it
            reads the backend's progress line) to receipt by the client, same JVM and clock. Redis: its own
            redis-server %s (Debian's package, loopback, AOF on with fsync every second) as
            `tempera.progress.redis-url`, the worker and the API both on it. A warm-up round of 10 generations
            runs first on each system and is not reported.

            | path | bus | ended | updates delivered | coalesced | rate per generation p50 / min (updates/s) | latency p50 | p90 | p99 | max | worker→API's bus p99 | p99 while all %d ran (window) | p99 after a follower's first 2 s | target p99 < %.0f ms |
            |---|---|---|---|---|---|---|---|---|---|---|---|---|---|
            """,
            loadBefore,
            loadAfter,
            TARGET_P99_MS,
            generations,
            generations,
            hz,
            seconds,
            (int) (hz * seconds),
            perSocket,
            redisVersion == null ? "(not used)" : redisVersion,
            generations,
            TARGET_P99_MS));
    for (Result x : results) {
      boolean any = !x.latencies().isEmpty();
      r.append(
          String.format(
              Locale.ROOT,
              "| %s | %s | %d of %d succeeded%s | %d of %d | %d | %.1f / %.1f | %s | %s | %s | %s | %s | %s | %s | %s |%n",
              x.transport().equals("ws") ? "WebSocket" : "SSE",
              x.bus(),
              x.succeeded(),
              x.generations(),
              x.failures().isEmpty() ? "" : " (" + x.failures() + ")",
              x.delivered(),
              x.reported(),
              x.coalesced(),
              x.rates().isEmpty() ? 0 : percentile(x.rates(), 50),
              x.rates().stream().mapToDouble(Double::doubleValue).min().orElse(0),
              any ? ms(percentile(x.latencies(), 50)) : "-",
              any ? ms(percentile(x.latencies(), 90)) : "-",
              any ? ms(percentile(x.latencies(), 99)) : "-",
              any ? ms(percentile(x.latencies(), 100)) : "-",
              x.onBus().isEmpty() ? "-" : ms(percentile(x.onBus(), 99)),
              x.allRunningLatencies().isEmpty()
                  ? "- (never all at once)"
                  : String.format(
                      Locale.ROOT,
                      "%s (%.1f s)",
                      ms(percentile(x.allRunningLatencies(), 99)),
                      x.fullWindowSeconds()),
              x.settledLatencies().isEmpty() ? "-" : ms(percentile(x.settledLatencies(), 99)),
              x.verdict()));
    }
    r.append('\n');
    for (Result x : results) {
      r.append(
          String.format(
              Locale.ROOT,
              "%s: %s (p99 %s, %.1f s wall clock)%n",
              x.path(),
              x.verdict(),
              x.latencies().isEmpty() ? "-" : ms(percentile(x.latencies(), 99)),
              x.wallSeconds()));
    }
    return r.toString();
  }

  private static String ms(double v) {
    return String.format(Locale.ROOT, "%.0f ms", v);
  }

  /** The kind of bus the app runs on, under the meters that count its events. */
  private static String busType(ProgressBus bus) {
    ProgressBus carrier =
        bus instanceof io.tempera.observability.MeteredProgressBus metered
            ? metered.delegate()
            : bus;
    return carrier.getClass().getSimpleName();
  }
}
