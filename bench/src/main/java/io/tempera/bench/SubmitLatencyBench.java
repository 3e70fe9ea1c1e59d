package io.tempera.bench;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;

/**
 * Submit latency of what ships: the embedded default application (the app jar: API, worker,
 * in-process Temporal and testkit ComfyUI in one process, its default configuration and slots) runs
 * as a child process on free ports with a scratch folder; this JVM, a separate process, is the load
 * generator. Latency = the HTTP round trip of {@code POST /api/generations} until its 202.
 *
 * <p>Two loads: open loop at a fixed rate (50 requests/s: each request has its scheduled send time
 * and its latency counts from that time, so a stall of the server or of the load generator shows as
 * latency instead of as fewer requests — no coordinated omission), then saturation: several
 * closed-loop clients each sending its next request as soon as the last was answered (throughput
 * and round-trip latency). The generations started queue on the default's 2 slots; after the loads
 * the bench counts how many have succeeded so far, then stops the app without waiting for the rest.
 *
 * <p>Args: [rate per second, default 50] [open-loop seconds, default 60] [saturation clients,
 * default 8] [saturation seconds, default 30]. Quick mode: {@code 50 5 4 5}.
 */
public final class SubmitLatencyBench {

  private static final String TITLE = "Submit latency: POST /api/generations from another process";

  public static void main(String[] args) throws Exception {
    BenchSystem.reportingFailure("submit-latency.md", TITLE, () -> run(args));
  }

  /** One load's figures. */
  private record Load(
      String name, int sent, int accepted, List<String> errors, List<Double> ms, double seconds) {

    String row() {
      return String.format(
          Locale.ROOT,
          "| %s | %d | %d | %.1f | %.1f | %.1f | **%.1f** | %.1f |%n",
          name,
          sent,
          accepted,
          accepted / seconds,
          BenchSystem.percentile(ms, 50),
          BenchSystem.percentile(ms, 90),
          BenchSystem.percentile(ms, 99),
          BenchSystem.percentile(ms, 100));
    }
  }

  static void run(String[] args) throws Exception {
    int rate = args.length > 0 ? Integer.parseInt(args[0]) : 50;
    int openSeconds = args.length > 1 ? Integer.parseInt(args[1]) : 60;
    int clients = args.length > 2 ? Integer.parseInt(args[2]) : 8;
    int saturationSeconds = args.length > 3 ? Integer.parseInt(args[3]) : 30;

    Path jar = appJar();
    Path scratch = Files.createTempDirectory("tempera-submit-bench");
    Path templates = scratch.resolve("templates");
    copyTree(Path.of("templates/functions"), templates.resolve("shipped"));
    copyTree(Path.of("templates/models"), templates.resolve("models"));
    copyTree(Path.of("bench/templates/instant"), templates.resolve("bench-instant"));
    // a copy: a rebuild of the jar while the app runs would pull classes from under it
    Path appJar = Files.copy(jar, scratch.resolve(jar.getFileName()));
    int port = freePort();
    int comfyPort = freePort();
    String java = ProcessHandle.current().info().command().orElse("java");
    List<String> command =
        new ArrayList<>(
            List.of(
                java,
                "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow",
                "-jar",
                appJar.toString()));
    ProcessBuilder builder =
        new ProcessBuilder(command)
            .directory(scratch.toFile())
            .redirectErrorStream(true)
            .redirectOutput(scratch.resolve("app.log").toFile());
    Map<String, String> env = builder.environment();
    env.put("TEMPERA_PORT", String.valueOf(port));
    env.put("TEMPERA_COMFYUI_PORT", String.valueOf(comfyPort));
    env.put("TEMPERA_OUTPUT_ROOT", scratch.resolve("outputs").toString());
    env.put("TEMPERA_COMFYUI_DATA", scratch.resolve("comfyui").toString());
    env.put("TEMPERA_TEMPLATES_DIR", templates.toString());
    // an operator key in the app's keys file before it starts (so it makes no development key)
    Path keysFile = BenchApi.keysFile(scratch.resolve("outputs"));
    String key = BenchApi.operatorKey(keysFile);
    env.put("TEMPERA_KEYS_FILE", keysFile.toString());
    Process app = builder.start();
    // a bench killed or exiting early does not leave the app behind
    Runtime.getRuntime().addShutdownHook(new Thread(app::destroy));
    String base = "http://127.0.0.1:" + port;
    HttpClient http =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    try {
      awaitStarted(http, base, app, scratch.resolve("app.log"));
      // the shipped app, with the bench's instant graph as one more function
      HttpResponse<String> function =
          http.send(
              BenchApi.request(URI.create(base + "/api/functions/instant"), key).build(),
              HttpResponse.BodyHandlers.ofString());
      if (function.statusCode() != 200) {
        throw new IllegalStateException(
            "the app did not load the bench's instant function: " + function.body());
      }
      Map<String, Integer> startedIds = new ConcurrentHashMap<>();
      AtomicInteger sequence = new AtomicInteger();
      Sender sender = new Sender(http, base, key, sequence, startedIds);

      // warm-up (JIT, connections): 10 s at 20/s, not counted
      openLoop(sender, "warm-up", 20, 10);
      Load open = openLoop(sender, rate + "/s open loop", rate, openSeconds);
      Load saturated = closedLoop(sender, clients, saturationSeconds);

      // how many of the generations started have succeeded by now (the 2 slots queue them)
      long loadsEnded = System.nanoTime();
      Map<String, Integer> statuses = statuses(http, base, key, startedIds.keySet());
      double countedAfter = (System.nanoTime() - loadsEnded) / 1e9;
      long rssMb = rssMb(app.pid());

      boolean met = BenchSystem.percentile(open.ms(), 99) < 25;
      boolean metSaturated = BenchSystem.percentile(saturated.ms(), 99) < 25;
      String errors =
          Stream.of(open, saturated)
              .flatMap(l -> l.errors().stream().limit(3).map(e -> l.name() + ": " + e))
              .reduce((a, b) -> a + "; " + b)
              .orElse("none");
      BenchSystem.write(
          "submit-latency.md",
          "# "
              + TITLE
              + "\n"
              + BenchSystem.provenance()
              + String.format(
                  Locale.ROOT,
                  "setup: `SubmitLatencyBench %d %d %d %d` — the embedded default app jar (%s) as"
                      + " a child process with its default configuration (2 slots, prefetch 1,"
                      + " in-process Temporal, testkit ComfyUI; JVM defaults, no -Xmx), the"
                      + " shipped templates plus the bench's instant graph (8x8, a new colour per"
                      + " request); the load generator is this bench's JVM (JDK HttpClient,"
                      + " HTTP/1.1, each request on a virtual thread). Request: POST"
                      + " /api/generations {functionId: instant, tier: standard, requestId: unique};"
                      + " latency = round trip until the 202. 10 s at 20/s warm-up first, not"
                      + " counted.%n%n",
                  rate,
                  openSeconds,
                  clients,
                  saturationSeconds,
                  jar.getFileName())
              + "open loop: requests sent at their scheduled times (every 1/rate s) whatever the"
              + " answers; latency counted from the scheduled time, so a stall shows (no"
              + " coordinated omission). saturation: "
              + clients
              + " closed-loop clients, each sending its next request when the last was answered;"
              + " latency = the request's round trip.\n\n"
              + "| load | sent | accepted (202) | accepted/s | p50 ms | p90 ms | p99 ms | max ms |\n"
              + "|---|---|---|---|---|---|---|---|\n"
              + open.row()
              + saturated.row()
              + String.format(
                  Locale.ROOT,
                  "%nnot accepted: %s%n%n"
                      + "generations started: %d; %.0f s after the loads ended their states were:"
                      + " %s (the default's 2 slots queue them; the app was then stopped without"
                      + " waiting for the rest). App RSS at the end: %d MB.%n%n"
                      + "target (#13): submit p99 < 25 ms at %d requests/s: %s (p99 %.1f ms);"
                      + " at saturation: %s (p99 %.1f ms, %.0f accepted/s)%n",
                  errors,
                  startedIds.size(),
                  countedAfter,
                  statuses,
                  rssMb,
                  rate,
                  open.accepted() < open.sent()
                      ? "NOT met (" + (open.sent() - open.accepted()) + " requests not accepted)"
                      : met ? "met" : "NOT met",
                  BenchSystem.percentile(open.ms(), 99),
                  saturated.accepted() < saturated.sent()
                      ? "NOT met ("
                          + (saturated.sent() - saturated.accepted())
                          + " requests not accepted)"
                      : metSaturated ? "met" : "NOT met",
                  BenchSystem.percentile(saturated.ms(), 99),
                  saturated.accepted() / saturated.seconds()));
    } finally {
      app.destroy();
      if (!app.waitFor(20, TimeUnit.SECONDS)) {
        app.destroyForcibly();
      }
      System.out.println("app log: " + scratch.resolve("app.log"));
    }
  }

  /** The generation id in a start's answer. */
  private static final java.util.regex.Pattern ID =
      java.util.regex.Pattern.compile("\"id\":\"([^\"]+)\"");

  /** Sends one start request; counts it as started when answered 202. */
  private record Sender(
      HttpClient http,
      String base,
      String key,
      AtomicInteger sequence,
      Map<String, Integer> started) {

    /** The answer's status, or -1 with the failure when it did not answer. */
    int send(List<String> errors) {
      int n = sequence.incrementAndGet();
      String requestId = "submit-" + n;
      String body =
          String.format(
              Locale.ROOT,
              "{\"functionId\":\"instant\",\"tier\":\"standard\",\"projectId\":\"bench\","
                  + "\"nodeId\":\"node-%d\",\"parameters\":{\"color\":%d},\"requestId\":\"%s\"}",
              n % 100,
              n % 16_777_215,
              requestId);
      try {
        HttpResponse<String> response =
            http.send(
                BenchApi.request(URI.create(base + "/api/generations"), key)
                    .header("content-type", "application/json")
                    .timeout(Duration.ofSeconds(30))
                    .POST(HttpRequest.BodyPublishers.ofString(body))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() == 202) {
          // the id the API gave (gen-<project tag>-<requestId>)
          started.put(ID.matcher(response.body()).results().findFirst().orElseThrow().group(1), n);
        } else if (errors.size() < 100) {
          errors.add(response.statusCode() + " " + response.body());
        }
        return response.statusCode();
      } catch (IOException e) {
        if (errors.size() < 100) {
          errors.add(e.toString());
        }
        return -1;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return -1;
      }
    }
  }

  /**
   * {@code rate} requests a second for {@code seconds}, each sent at its scheduled time on its own
   * virtual thread; latency from the scheduled time to the answer.
   */
  private static Load openLoop(Sender sender, String name, int rate, int seconds) throws Exception {
    int count = rate * seconds;
    long interval = 1_000_000_000L / rate;
    List<Double> ms = new CopyOnWriteArrayList<>();
    List<String> errors = new CopyOnWriteArrayList<>();
    AtomicInteger accepted = new AtomicInteger();
    List<Future<?>> sent = new ArrayList<>();
    long start = System.nanoTime() + 50_000_000L;
    try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int i = 0; i < count; i++) {
        long scheduled = start + i * interval;
        long wait;
        while ((wait = scheduled - System.nanoTime()) > 0) {
          LockSupport.parkNanos(wait);
        }
        sent.add(
            pool.submit(() -> {
              if (sender.send(errors) == 202) {
                accepted.incrementAndGet();
                ms.add((System.nanoTime() - scheduled) / 1e6);
              }
            }));
      }
      for (Future<?> f : sent) {
        f.get(60, TimeUnit.SECONDS);
      }
    }
    double wall = (System.nanoTime() - start) / 1e9;
    return new Load(name, count, accepted.get(), errors, sorted(ms), wall);
  }

  /** {@code clients} clients, each sending back to back for {@code seconds}. */
  private static Load closedLoop(Sender sender, int clients, int seconds) throws Exception {
    List<Double> ms = new CopyOnWriteArrayList<>();
    List<String> errors = new CopyOnWriteArrayList<>();
    AtomicInteger sent = new AtomicInteger();
    AtomicInteger accepted = new AtomicInteger();
    long start = System.nanoTime();
    long end = start + seconds * 1_000_000_000L;
    try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<?>> running = new ArrayList<>();
      for (int c = 0; c < clients; c++) {
        running.add(
            pool.submit(() -> {
              while (System.nanoTime() < end) {
                long began = System.nanoTime();
                sent.incrementAndGet();
                if (sender.send(errors) == 202) {
                  accepted.incrementAndGet();
                  ms.add((System.nanoTime() - began) / 1e6);
                }
              }
            }));
      }
      for (Future<?> f : running) {
        f.get(seconds + 60L, TimeUnit.SECONDS);
      }
    }
    double wall = (System.nanoTime() - start) / 1e9;
    return new Load(
        "saturation, " + clients + " clients",
        sent.get(),
        accepted.get(),
        errors,
        sorted(ms),
        wall);
  }

  private static List<Double> sorted(List<Double> values) {
    if (values.isEmpty()) {
      throw new IllegalStateException("no request was accepted");
    }
    List<Double> copy = new ArrayList<>(values);
    Collections.sort(copy);
    return copy;
  }

  /** The generations' states now, counted by status (GET /api/generations/{id}, 8 at a time). */
  private static Map<String, Integer> statuses(
      HttpClient http, String base, String key, java.util.Set<String> ids) throws Exception {
    Map<String, Integer> counts = new TreeMap<>();
    java.util.concurrent.Semaphore gate = new java.util.concurrent.Semaphore(8);
    try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<String>> answers = new ArrayList<>();
      for (String id : ids) {
        answers.add(
            pool.submit(() -> {
              gate.acquire();
              try {
                HttpResponse<String> response =
                    http.send(
                        BenchApi.request(URI.create(base + "/api/generations/" + id), key)
                            .timeout(Duration.ofSeconds(30))
                            .build(),
                        HttpResponse.BodyHandlers.ofString());
                if (response.statusCode() != 200) {
                  return "HTTP " + response.statusCode();
                }
                var matcher =
                    java.util.regex.Pattern.compile("\"status\":\"([A-Z]+)\"")
                        .matcher(response.body());
                return matcher.find() ? matcher.group(1) : "unknown";
              } finally {
                gate.release();
              }
            }));
      }
      for (Future<String> answer : answers) {
        String status;
        try {
          status = answer.get(120, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException
            | java.util.concurrent.TimeoutException e) {
          status = "no answer";
        }
        counts.merge(status, 1, Integer::sum);
      }
    }
    return counts;
  }

  private static void awaitStarted(HttpClient http, String base, Process app, Path log)
      throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
    while (System.nanoTime() < deadline) {
      if (!app.isAlive()) {
        throw new IllegalStateException(
            "the app exited with " + app.exitValue() + "; its log: " + tail(log));
      }
      try {
        HttpResponse<String> health =
            http.send(
                HttpRequest.newBuilder(URI.create(base + "/actuator/health"))
                    .timeout(Duration.ofSeconds(2))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
        if (health.statusCode() == 200) {
          return;
        }
      } catch (IOException notYet) {
        // starting
      }
      Thread.sleep(500);
    }
    throw new IllegalStateException("the app did not answer within 180 s; its log: " + tail(log));
  }

  private static String tail(Path log) throws IOException {
    List<String> lines = Files.readAllLines(log);
    return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
  }

  private static Path appJar() throws IOException {
    try (Stream<Path> files = Files.list(Path.of("embedded/target"))) {
      return files
          .filter(p -> p.getFileName().toString().matches("tempera-embedded-.*-app\\.jar"))
          .findFirst()
          .orElseThrow(() ->
              new IllegalStateException(
                  "no embedded/target/tempera-embedded-*-app.jar: build it first (./mvnw install)"));
    }
  }

  static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  private static long rssMb(long pid) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
        }
      }
    } catch (IOException | NumberFormatException e) {
      return 0;
    }
    return 0;
  }

  private static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> paths = Files.walk(from)) {
      for (Path p : (Iterable<Path>) paths::iterator) {
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(target);
        } else {
          Files.createDirectories(target.getParent());
          Files.copy(p, target);
        }
      }
    }
  }
}
