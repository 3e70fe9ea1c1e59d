package io.tempera.bench;

import static io.tempera.bench.BenchSystem.percentile;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.embedded.EmbeddedApplication;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * Live progress under load: the embedded system runs 100 generations at once, each a local script
 * (the {@code progress-ticker} benchmark template) that reports progress at 25 Hz for 6 s; clients
 * start them with {@code start_generation} over the canvas WebSocket and follow them on the same
 * sockets. Per generation it counts the progress updates delivered and their rate, how many the
 * server coalesced (gaps in the eventIds: latest wins for a slow client), and how late each arrived
 * (the worker's timestamp to receipt, same machine, same JVM).
 *
 * <p>Args: [generations, default 100] [hz, default 25] [seconds, default 6] [sockets..., default 1
 * 10]
 */
public final class ConcurrentProgressBench {

  private static final ObjectMapper JSON = new ObjectMapper();

  public static void main(String[] args) throws Exception {
    BenchSystem.reportingFailure(
        "progress-100-concurrent.md", "Live progress, 100 generations at once", () -> run(args));
  }

  static void run(String[] args) throws Exception {
    int generations = args.length > 0 ? Integer.parseInt(args[0]) : 100;
    double hz = args.length > 1 ? Double.parseDouble(args[1]) : 25;
    double seconds = args.length > 2 ? Double.parseDouble(args[2]) : 6;
    List<Integer> socketCounts = new ArrayList<>();
    for (int i = 3; i < args.length; i++) socketCounts.add(Integer.parseInt(args[i]));
    if (socketCounts.isEmpty()) socketCounts = List.of(1, 10);

    Path tmp = Files.createTempDirectory("tempera-fanout");
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
                "--tempera.worker.slots=" + generations,
                "--tempera.worker.script-runs=" + tmp.resolve("script-runs"),
                "--tempera.canvas.max-followed-tasks=" + Math.max(500, generations),
                "--logging.level.root=WARN");
    StringBuilder report = new StringBuilder();
    try {
      int port = ((WebServerApplicationContext) app).getWebServer().getPort();
      report.append(
          String.format(
              Locale.ROOT,
              """
              # Live progress, %d generations at once — canvas WebSocket, embedded setup
              date: %s
              machine: %d cores, JDK %s
              setup: embedded system (API + worker + in-process Temporal test server) with %d slots; each generation runs the
              `progress-ticker` script backend, which reports progress at %.0f Hz for %.0f s (%d updates); the clients, in the
              same JVM, start the generations with `start_generation` and follow them on the same sockets

              """,
              generations,
              Instant.now(),
              Runtime.getRuntime().availableProcessors(),
              System.getProperty("java.version"),
              generations,
              hz,
              seconds,
              (int) (hz * seconds)));
      run(
          port,
          key,
          Math.min(20, generations),
          2,
          hz,
          2,
          true); // warm-up: JIT, thread pools, first script runs; not reported
      for (int sockets : socketCounts) {
        report.append(run(port, key, generations, sockets, hz, seconds, false));
      }
    } finally {
      app.close();
    }
    BenchSystem.write("progress-100-concurrent.md", report.toString());
  }

  /** One round: {@code generations} started over {@code sockets} sockets, followed to the end. */
  private static String run(
      int port, String key, int generations, int sockets, double hz, double seconds, boolean warmUp)
      throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    Map<String, Generation> byTask = new ConcurrentHashMap<>();
    CountDownLatch done = new CountDownLatch(generations);
    List<WebSocket> open = new ArrayList<>();
    for (int s = 0; s < sockets; s++) {
      open.add(
          BenchApi.openSocket(
              http, URI.create("ws://127.0.0.1:" + port + "/ws"), new Follower(byTask, done), key));
    }
    long started = System.currentTimeMillis();
    for (int g = 0; g < generations; g++) {
      WebSocket socket = open.get(g % sockets);
      String message =
          JSON.writeValueAsString(
              Map.of(
                  "type",
                  "start_generation",
                  "functionId",
                  "progress-ticker",
                  "projectId",
                  "bench",
                  "nodeId",
                  "n" + g,
                  "requestId",
                  "fanout-" + UUID.randomUUID(),
                  "parameters",
                  Map.of("hz", hz, "seconds", seconds)));
      synchronized (socket) {
        socket.sendText(message, true).get(10, TimeUnit.SECONDS);
      }
    }
    boolean finished = done.await((long) (seconds * 10 + 180), TimeUnit.SECONDS);
    long wall = System.currentTimeMillis() - started;
    open.forEach(WebSocket::abort);
    if (!finished) {
      System.err.println(
          "only "
              + (generations - done.getCount())
              + " of "
              + generations
              + " generations ended in time");
    }
    if (warmUp) {
      return "";
    }

    int expected = (int) (hz * seconds);
    List<Double> rates = new ArrayList<>();
    List<Double> latencies = new ArrayList<>();
    List<Double> delivered = new ArrayList<>();
    long coalesced = 0;
    long totalDelivered = 0;
    int succeeded = 0;
    Map<String, Integer> failures = new java.util.TreeMap<>();
    long firstStep = Long.MAX_VALUE;
    long lastFirstStep = 0;
    int starved = 0;
    int rerun = 0;
    for (Generation g : byTask.values()) {
      synchronized (g) {
        if (g.succeeded) succeeded++;
        else failures.merge(g.ended ? g.failureCode : "NOT_ENDED", 1, Integer::sum);
        delivered.add((double) g.arrivals.size());
        if (g.arrivals.size() < 2) starved++;
        if (g.arrivals.size() > expected) rerun++;
        totalDelivered += g.arrivals.size();
        coalesced += g.gaps;
        latencies.addAll(g.latencies);
        if (g.arrivals.size() > 1) {
          double span = (g.arrivals.get(g.arrivals.size() - 1) - g.arrivals.get(0)) / 1000.0;
          rates.add((g.arrivals.size() - 1) / span);
          firstStep = Math.min(firstStep, g.arrivals.get(0));
          lastFirstStep = Math.max(lastFirstStep, g.arrivals.get(0));
        } else {
          rates.add(0.0);
        }
      }
    }
    double min = rates.stream().mapToDouble(Double::doubleValue).min().orElse(0);
    return String.format(
        Locale.ROOT,
        """
        ## %d sockets (%d generations each)
        ended: %d of %d succeeded%s, %.1f s wall clock; the last generation's first update came %.1f s after the first one's
        updates delivered: %d of %d reported (%.1f%%); coalesced by the server (eventId gaps, latest wins): %d
        generations with fewer than 2 updates: %d; with more than reported (the run ran twice, after a retry): %d
        | figure | min | p50 | p90 | p99 | max |
        |---|---|---|---|---|---|
        | delivered rate per generation (updates/s) | %.1f | %.1f | %.1f | %.1f | %.1f |
        | updates delivered per generation | %.0f | %.0f | %.0f | %.0f | %.0f |
        | worker timestamp to client (ms) | %.0f | %.0f | %.0f | %.0f | %.0f |

        target: >= 10 Hz for every generation -> %s (min %.1f Hz)

        """,
        sockets,
        generations / sockets,
        succeeded,
        generations,
        failures.isEmpty() ? "" : " (others: " + failures + ")",
        wall / 1000.0,
        (lastFirstStep - firstStep) / 1000.0,
        totalDelivered,
        (long) expected * generations,
        100.0 * totalDelivered / ((double) expected * generations),
        coalesced,
        starved,
        rerun,
        min,
        percentile(rates, 50),
        percentile(rates, 90),
        percentile(rates, 99),
        percentile(rates, 100),
        percentile(delivered, 0),
        percentile(delivered, 50),
        percentile(delivered, 90),
        percentile(delivered, 99),
        percentile(delivered, 100),
        percentile(latencies, 0),
        percentile(latencies, 50),
        percentile(latencies, 90),
        percentile(latencies, 99),
        percentile(latencies, 100),
        min >= 10 ? "met" : "NOT met",
        min);
  }

  /** What one generation's follower saw. */
  private static final class Generation {
    final List<Long> arrivals = new ArrayList<>();
    final List<Double> latencies = new ArrayList<>();
    long lastEventId;
    long gaps;
    boolean ended;
    boolean succeeded;
    String failureCode;
  }

  /** Reads one socket's messages and files them by task. */
  private static final class Follower extends JsonSocketListener {
    private final Map<String, Generation> byTask;
    private final CountDownLatch done;

    Follower(Map<String, Generation> byTask, CountDownLatch done) {
      this.byTask = byTask;
      this.done = done;
    }

    @Override
    void onMessage(JsonNode m, long now) {
      handle(m, now);
    }

    private void handle(JsonNode m, long now) {
      String type = m.path("type").asText();
      String taskId = m.path("taskId").asText(null);
      if (taskId == null) return;
      Generation g = byTask.computeIfAbsent(taskId, id -> new Generation());
      synchronized (g) {
        switch (type) {
          case "task_progress" -> {
            long eventId = m.get("eventId").asLong();
            if (g.lastEventId > 0 && eventId > g.lastEventId + 1)
              g.gaps += eventId - g.lastEventId - 1;
            g.lastEventId = Math.max(g.lastEventId, eventId);
            if (m.has("step")) {
              g.arrivals.add(now);
              g.latencies.add((double) (now - m.get("timestamp").asLong()));
            }
          }
          case "task_state" ->
              g.lastEventId = Math.max(g.lastEventId, m.path("state").path("eventId").asLong());
          case "task_success", "task_failed" -> {
            if (!g.ended) {
              g.ended = true;
              g.succeeded = type.equals("task_success");
              g.failureCode = m.path("code").asText(null);
              done.countDown();
            }
          }
          default -> {}
        }
      }
    }
  }
}
