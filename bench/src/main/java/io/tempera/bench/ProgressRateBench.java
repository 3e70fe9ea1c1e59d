package io.tempera.bench;

import static io.tempera.bench.BenchSystem.percentile;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.embedded.EmbeddedApplication;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * Progress rate at the client: the embedded system runs a generation whose backend reports progress
 * at about 100 Hz; an SSE client counts the progress events it receives and how late they arrive
 * (server timestamp to receipt, same machine).
 *
 * <p>Args: [runs, default 5]
 */
public final class ProgressRateBench {

  public static void main(String[] args) throws Exception {
    BenchSystem.reportingFailure(
        "progress-rate.md", "Progress rate of one generation", () -> run(args));
  }

  static void run(String[] args) throws Exception {
    int runs = args.length > 0 ? Integer.parseInt(args[0]) : 5;
    Path tmp = Files.createTempDirectory("tempera-rate");
    Path keysFile = BenchApi.keysFile(tmp.resolve("outputs"));
    String key = BenchApi.operatorKey(keysFile);
    // command-line arguments, so they win over tempera-embedded.yml
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
                "--logging.level.root=WARN");
    try {
      int port = ((WebServerApplicationContext) app).getWebServer().getPort();
      HttpClient http = HttpClient.newHttpClient();
      ObjectMapper json = new ObjectMapper();
      List<Double> rates = new ArrayList<>();
      List<Double> gapsMs = new ArrayList<>();
      List<Double> latencyMs = new ArrayList<>();
      int backendSteps = 200;
      int received = 0;
      for (int run = 0; run < runs; run++) {
        HttpResponse<String> started =
            http.send(
                BenchApi.request(URI.create("http://127.0.0.1:" + port + "/api/generations"), key)
                    .header("content-type", "application/json")
                    .POST(
                        HttpRequest.BodyPublishers.ofString(
                            "{\"functionId\":\"progress-stream\",\"projectId\":\"bench\",\"nodeId\":\"n\",\"parameters\":{\"color\":"
                                + run
                                + "}}"))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
        if (started.statusCode() != 202) {
          throw new IllegalStateException(
              "starting a generation failed: " + started.statusCode() + " " + started.body());
        }
        String id = json.readTree(started.body()).get("id").asText();
        HttpResponse<java.io.InputStream> events =
            http.send(
                BenchApi.request(
                        URI.create(
                            "http://127.0.0.1:" + port + "/api/generations/" + id + "/events"),
                        key)
                    .build(),
                HttpResponse.BodyHandlers.ofInputStream());
        List<Long> arrivals = new ArrayList<>();
        try (BufferedReader reader =
            new BufferedReader(new InputStreamReader(events.body(), StandardCharsets.UTF_8))) {
          String event = "";
          String line;
          int lastStep = -1; // a step's preview event repeats its step: each step counts once
          while ((line = reader.readLine()) != null) {
            if (line.startsWith("event:")) {
              event = line.substring(6).trim();
            } else if (line.startsWith("data:") && event.equals("progress")) {
              JsonNode data = json.readTree(line.substring(5));
              if (data.has("step") && data.get("step").asInt() != lastStep) {
                lastStep = data.get("step").asInt();
                long now = System.currentTimeMillis();
                arrivals.add(now);
                latencyMs.add((double) (now - data.get("timestamp").asLong()));
              }
            } else if (line.startsWith("data:")
                && (event.equals("succeeded")
                    || event.equals("failed")
                    || event.equals("cancelled"))) {
              break;
            }
          }
        }
        received += arrivals.size();
        if (arrivals.size() > 1) {
          double seconds = (arrivals.get(arrivals.size() - 1) - arrivals.get(0)) / 1000.0;
          rates.add((arrivals.size() - 1) / seconds);
          for (int i = 1; i < arrivals.size(); i++) {
            gapsMs.add((double) (arrivals.get(i) - arrivals.get(i - 1)));
          }
        }
      }
      BenchSystem.write(
          "progress-rate.md",
          String.format(
              Locale.ROOT,
              """
              # Progress rate at an SSE client — embedded setup
              date: %s
              machine: %d cores, JDK %s
              setup: embedded system (API + worker + in-process Temporal + testkit ComfyUI), %d generations whose backend reports %d steps 10 ms apart (about 100 Hz)

              step events received: %d of %d reported (the rest coalesced, latest wins)
              | figure | p50 | p90 | p99 | max |
              |---|---|---|---|---|
              | rate per generation (events/s) | %.0f | %.0f | %.0f | %.0f |
              | gap between events (ms) | %.0f | %.0f | %.0f | %.0f |
              | server timestamp to client (ms) | %.0f | %.0f | %.0f | %.0f |

              target: >= 10 Hz -> %s; within ~100 ms -> %s
              """,
              Instant.now(),
              Runtime.getRuntime().availableProcessors(),
              System.getProperty("java.version"),
              runs,
              backendSteps,
              received,
              runs * backendSteps,
              percentile(rates, 50),
              percentile(rates, 90),
              percentile(rates, 99),
              percentile(rates, 100),
              percentile(gapsMs, 50),
              percentile(gapsMs, 90),
              percentile(gapsMs, 99),
              percentile(gapsMs, 100),
              percentile(latencyMs, 50),
              percentile(latencyMs, 90),
              percentile(latencyMs, 99),
              percentile(latencyMs, 100),
              percentile(rates, 50) >= 10 ? "met" : "NOT met",
              percentile(latencyMs, 99) <= 100 ? "met" : "NOT met"));
    } finally {
      app.close();
    }
  }
}
