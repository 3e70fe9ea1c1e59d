package io.tempera.bench;

import static io.tempera.bench.BenchSystem.percentile;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.embedded.EmbeddedApplication;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * Slow and hostile clients against normal traffic (#16): the embedded default (its 2 slots, the
 * {@code instant} testkit function) serves a stream of normal generations — start over REST, follow
 * over SSE to the terminal event, two at a time — first alone (baseline), then while S slow clients
 * hold connections the whole time: a third send a request's headers a byte a second (slowloris), a
 * third send a declared body a byte a second, a third follow a long generation over SSE and never
 * read (a 4 KB receive buffer). Each slow client that the server cuts off connects again at once,
 * so the pressure holds. Rounds alternate baseline and slow; the normal traffic's latency (start →
 * terminal event) is the figure. Target (#16): the normal traffic keeps its p99 — met when the p99
 * with the slow clients is within the spread of the baseline rounds of the same run (no higher than
 * the highest baseline p99).
 *
 * <p>Args: [slow clients, default 200] [generations per round, default 300: long enough for the
 * server to cut slow clients off during it] [rounds, default 2]. Quick mode: {@code 30 20 1}.
 */
public final class SlowClientsBench {

  private static final String TITLE = "Slow clients against normal traffic";
  private static final String RESULT = "slow-clients.md";
  private static final ObjectMapper JSON = new ObjectMapper();

  public static void main(String[] args) throws Exception {
    BenchSystem.reportingFailure(RESULT, TITLE, () -> run(args));
  }

  static void run(String[] args) throws Exception {
    int slow = args.length > 0 ? Integer.parseInt(args[0]) : 200;
    int generations = args.length > 1 ? Integer.parseInt(args[1]) : 300;
    int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 2;

    Path tmp = Files.createTempDirectory("tempera-slow-clients");
    Path keysFile = BenchApi.keysFile(tmp.resolve("outputs"));
    String operator = BenchApi.operatorKey(keysFile);
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
    StringBuilder rows = new StringBuilder();
    List<Double> baselineP99 = new ArrayList<>();
    List<Double> slowP99 = new ArrayList<>();
    Ticker ticker = null;
    try {
      int port = ((WebServerApplicationContext) app).getWebServer().getPort();
      // one long generation runs the whole time, baseline rounds included (it takes one of the two
      // slots in every round alike); the followers that never read follow it
      ticker = Ticker.start(port, operator);
      Normal normal = new Normal(port, operator);
      normal.round(Math.min(20, generations)); // warm-up, not reported
      for (int round = 1; round <= rounds; round++) {
        List<Double> alone = normal.round(generations);
        baselineP99.add(percentile(alone, 99));
        rows.append(row(round, "baseline", 0, alone, Map.of()));
        try (SlowClients clients = SlowClients.start(port, operator, slow, ticker)) {
          clients.awaitConnected(Duration.ofSeconds(30));
          List<Double> pressed = normal.round(generations);
          slowP99.add(percentile(pressed, 99));
          rows.append(row(round, "with slow clients", slow, pressed, clients.counts()));
        }
      }
    } finally {
      if (ticker != null) {
        ticker.close();
      }
      app.close();
    }
    double ceiling = Collections.max(baselineP99);
    double worst = Collections.max(slowP99);
    boolean met = worst <= ceiling;
    BenchSystem.write(
        RESULT,
        "# "
            + TITLE
            + "\n"
            + BenchSystem.provenance()
            + String.format(
                Locale.ROOT,
                "setup: `SlowClientsBench %d %d %d` — the embedded default in this JVM (API,"
                    + " worker with its 2 slots, in-process Temporal, testkit ComfyUI), its"
                    + " default limits (read timeout 30 s, request timeout 5 min, 64 following"
                    + " connections per project key, the slow clients on an operator key, which"
                    + " is not counted). Normal traffic: %d generations of `instant` a round, two"
                    + " at a time, each started over REST and followed over SSE to its terminal"
                    + " event (latency = start → terminal event), on one slot: a 60 s"
                    + " `progress-ticker-light` generation (20 Hz) runs on the other the whole"
                    + " time, in every round, started again as it ends. Slow clients: %d connections"
                    + " held the whole round — slowloris headers, a slow declared body, SSE"
                    + " followers that never read — each reconnecting when cut off. Rounds"
                    + " alternate baseline and slow; a warm-up round first, not reported.%n%n",
                slow,
                generations,
                rounds,
                generations,
                slow)
            + "| round | traffic | slow clients | generations | p50 ms | p99 ms | max ms | slow"
            + " clients cut off by the server (slowloris / slow body / not reading) |\n"
            + "|---|---|---|---|---|---|---|---|\n"
            + rows
            + String.format(
                Locale.ROOT,
                "%ntarget (#16): with %d slow clients the normal traffic keeps its p99 — no higher"
                    + " than the highest baseline p99 of the same run (%.0f ms): worst p99 with"
                    + " them %.0f ms → %s%n",
                slow,
                ceiling,
                worst,
                met
                    ? "met"
                    : "missed (the slow clients cost the normal traffic "
                        + String.format(Locale.ROOT, "%.0f", worst - ceiling)
                        + " ms at p99 beyond the baseline's spread)"));
  }

  private static String row(
      int round, String traffic, int slow, List<Double> ms, Map<String, Integer> cut) {
    return String.format(
        Locale.ROOT,
        "| %d | %s | %d | %d | %.0f | %.0f | %.0f | %s |%n",
        round,
        traffic,
        slow,
        ms.size(),
        percentile(ms, 50),
        percentile(ms, 99),
        Collections.max(ms),
        cut.isEmpty()
            ? "—"
            : cut.getOrDefault("slowloris", 0)
                + " / "
                + cut.getOrDefault("slow-body", 0)
                + " / "
                + cut.getOrDefault("not-reading", 0));
  }

  /** The normal traffic: start, follow to the end, two at a time. */
  private static final class Normal {
    final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    final int port;
    final String key;

    Normal(int port, String key) {
      this.port = port;
      this.key = key;
    }

    List<Double> round(int generations) throws Exception {
      List<Double> ms = Collections.synchronizedList(new ArrayList<>());
      AtomicInteger next = new AtomicInteger();
      List<Thread> workers = new ArrayList<>();
      for (int w = 0; w < 2; w++) {
        workers.add(
            Thread.ofVirtual()
                .start(() -> {
                  while (next.getAndIncrement() < generations) {
                    try {
                      ms.add(one());
                    } catch (Exception e) {
                      throw new IllegalStateException("a normal generation failed", e);
                    }
                  }
                }));
      }
      for (Thread t : workers) {
        t.join();
      }
      if (ms.size() != generations) {
        throw new IllegalStateException(
            "only " + ms.size() + " of " + generations + " normal generations ended");
      }
      return ms;
    }

    double one() throws Exception {
      long start = System.nanoTime();
      HttpResponse<String> started =
          http.send(
              BenchApi.request(uri("/api/generations"), key)
                  .header("Content-Type", "application/json")
                  .POST(
                      HttpRequest.BodyPublishers.ofString(
                          "{\"functionId\":\"instant\",\"projectId\":\"normal\",\"nodeId\":\"n\","
                              + "\"tier\":\"draft\",\"parameters\":{\"color\":"
                              + (int) (Math.random() * 16777215)
                              + "}}"))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      if (started.statusCode() != 202) {
        throw new IllegalStateException("start: " + started.statusCode() + " " + started.body());
      }
      String id = JSON.readTree(started.body()).get("id").asText();
      HttpResponse<java.util.stream.Stream<String>> events =
          http.send(
              BenchApi.request(uri("/api/generations/" + id + "/events"), key).build(),
              HttpResponse.BodyHandlers.ofLines());
      try (var lines = events.body()) {
        boolean ended =
            lines.anyMatch(
                line -> line.startsWith("event:succeeded") || line.startsWith("event:failed"));
        if (!ended) {
          throw new IllegalStateException("no terminal event for " + id);
        }
      }
      return (System.nanoTime() - start) / 1e6;
    }

    URI uri(String path) {
      return URI.create("http://127.0.0.1:" + port + path);
    }
  }

  /** One long generation at all times: started again as soon as it ends. */
  private static final class Ticker implements AutoCloseable {
    final AtomicBoolean running = new AtomicBoolean(true);
    volatile String current;
    Thread loop;

    static Ticker start(int port, String key) throws Exception {
      Ticker ticker = new Ticker();
      HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
      ticker.current = ticker.startOne(http, port, key);
      ticker.loop =
          Thread.ofVirtual()
              .start(() -> {
                while (ticker.running.get()) {
                  try {
                    HttpResponse<java.util.stream.Stream<String>> events =
                        http.send(
                            BenchApi.request(
                                    URI.create(
                                        "http://127.0.0.1:"
                                            + port
                                            + "/api/generations/"
                                            + ticker.current
                                            + "/events"),
                                    key)
                                .build(),
                            HttpResponse.BodyHandlers.ofLines());
                    try (var lines = events.body()) {
                      boolean ended =
                          lines.anyMatch(
                              l -> l.startsWith("event:succeeded") || l.startsWith("event:failed"));
                      if (!ended && ticker.running.get()) {
                        throw new IllegalStateException("the long generation's events stopped");
                      }
                    }
                    if (ticker.running.get()) {
                      ticker.current = ticker.startOne(http, port, key);
                    }
                  } catch (Exception e) {
                    if (ticker.running.get()) {
                      throw new IllegalStateException("the long generation failed", e);
                    }
                  }
                }
              });
      return ticker;
    }

    String startOne(HttpClient http, int port, String key) throws Exception {
      HttpResponse<String> started =
          http.send(
              BenchApi.request(URI.create("http://127.0.0.1:" + port + "/api/generations"), key)
                  .header("Content-Type", "application/json")
                  .POST(
                      HttpRequest.BodyPublishers.ofString(
                          "{\"functionId\":\"progress-ticker-light\",\"projectId\":\"slow\","
                              + "\"nodeId\":\"n\",\"parameters\":{\"hz\":20,\"seconds\":60}}"))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      if (started.statusCode() != 202) {
        throw new IllegalStateException("the long generation: " + started.body());
      }
      JsonNode accepted = JSON.readTree(started.body());
      return accepted.get("id").asText();
    }

    @Override
    public void close() throws InterruptedException {
      running.set(false);
      loop.interrupt();
      loop.join(5000);
    }
  }

  /** Connections that hold the server's resources the whole round, reconnecting when cut. */
  private static final class SlowClients implements AutoCloseable {
    final AtomicBoolean running = new AtomicBoolean(true);
    final List<Thread> threads = new ArrayList<>();
    final List<Socket> sockets = Collections.synchronizedList(new ArrayList<>());
    final Map<String, AtomicInteger> cut =
        Map.of(
            "slowloris", new AtomicInteger(),
            "slow-body", new AtomicInteger(),
            "not-reading", new AtomicInteger());
    final AtomicInteger connected = new AtomicInteger();
    final int total;

    private SlowClients(int total) {
      this.total = total;
    }

    static SlowClients start(int port, String key, int total, Ticker ticker) {
      SlowClients clients = new SlowClients(total);
      for (int i = 0; i < total; i++) {
        String kind = i % 3 == 0 ? "slowloris" : i % 3 == 1 ? "slow-body" : "not-reading";
        clients.threads.add(Thread.ofVirtual().start(() -> clients.hold(port, key, kind, ticker)));
      }
      return clients;
    }

    void awaitConnected(Duration within) throws InterruptedException {
      long until = System.nanoTime() + within.toNanos();
      while (connected.get() < total && System.nanoTime() < until) {
        Thread.sleep(50);
      }
    }

    Map<String, Integer> counts() {
      return Map.of(
          "slowloris", cut.get("slowloris").get(),
          "slow-body", cut.get("slow-body").get(),
          "not-reading", cut.get("not-reading").get());
    }

    void hold(int port, String key, String kind, Ticker ticker) {
      boolean first = true;
      while (running.get()) {
        try (Socket socket = new Socket()) {
          socket.setReceiveBufferSize(4096);
          socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
          sockets.add(socket);
          if (first) {
            connected.incrementAndGet();
            first = false;
          }
          OutputStream out = socket.getOutputStream();
          switch (kind) {
            case "slowloris" -> {
              byte[] head =
                  ("GET /api/functions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                          + key
                          + "\r\nX-Slow: "
                          + "a".repeat(4000))
                      .getBytes(StandardCharsets.US_ASCII);
              for (int i = 0; i < head.length && running.get(); i++) {
                out.write(head[i]);
                out.flush();
                Thread.sleep(1000);
              }
            }
            case "slow-body" -> {
              out.write(
                  ("POST /api/generations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                          + key
                          + "\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
                      .getBytes(StandardCharsets.US_ASCII));
              out.flush();
              for (int i = 0; i < 100000 && running.get(); i++) {
                out.write(' ');
                out.flush();
                Thread.sleep(1000);
              }
            }
            default -> {
              out.write(
                  ("GET /api/generations/"
                          + ticker.current
                          + "/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                          + key
                          + "\r\n\r\n")
                      .getBytes(StandardCharsets.US_ASCII));
              out.flush();
              // never read: wait until the server closes (a write fails) or the round ends
              InputStream unused = socket.getInputStream();
              while (running.get()) {
                Thread.sleep(1000);
                out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
              }
              unused.close();
            }
          }
        } catch (IOException e) {
          if (running.get()) {
            cut.get(kind).incrementAndGet(); // the server hung up: connect again
          }
        } catch (InterruptedException e) {
          return;
        }
      }
    }

    @Override
    public void close() throws InterruptedException {
      running.set(false);
      synchronized (sockets) {
        for (Socket s : sockets) {
          try {
            s.close();
          } catch (IOException ignored) {
            // closing
          }
        }
      }
      for (Thread t : threads) {
        t.interrupt();
        t.join(5000);
      }
    }
  }
}
