package io.tempera.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.models.ModelSpec;
import io.tempera.template.NodeCatalogue;
import io.tempera.template.NodeCatalogueSource;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node catalogues of the configured ComfyUI servers, fetched from their {@code /object_info}
 * once at start and again every {@code refresh} (every few seconds while a server has never
 * answered, and soon after the templates change), and kept in memory for the template registry. A
 * server that does not answer keeps its last known catalogue; one that never answered is left out
 * (its templates are not failed for it), and the log says so once. With several servers the
 * templates are checked against what all of them have: a new run may go to any of them.
 *
 * <p>Tiers whose model runs in its own container ({@code templates/models/} with an image) are not
 * checked when containers are started on demand: that server is not up until a generation needs it.
 */
public final class ComfyUiNodeCatalogues implements NodeCatalogueSource, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(ComfyUiNodeCatalogues.class);

  /** How often a server that has never answered is asked again. */
  static final Duration UNKNOWN_RETRY = Duration.ofSeconds(5);

  private final List<URI> urls;
  private final ObjectMapper json;
  private final Duration refresh;
  private final Duration timeout;
  private final boolean containersOnDemand;
  private final HttpClient http;
  private final Map<URI, Server> servers = new LinkedHashMap<>();
  private final Object wake = new Object();
  private volatile Optional<NodeCatalogue> combined = Optional.empty();
  private volatile boolean soon;
  private volatile Thread refresher;

  /** What one server last said. */
  private static final class Server {
    NodeCatalogue catalogue;
    String failure; // the last fetch's failure, null when it answered
  }

  /**
   * @param urls the ComfyUI servers (base URLs, as the worker uses them)
   * @param refresh how often the catalogues are fetched again
   * @param timeout how long one fetch may take
   * @param containersOnDemand true when containerised models run in containers started only when a
   *     generation needs them (their tiers are then not checked)
   */
  public ComfyUiNodeCatalogues(
      List<URI> urls,
      ObjectMapper json,
      Duration refresh,
      Duration timeout,
      boolean containersOnDemand) {
    this.urls = List.copyOf(urls);
    this.json = json;
    this.refresh = refresh;
    this.timeout = timeout;
    this.containersOnDemand = containersOnDemand;
    this.http =
        HttpClient.newBuilder()
            .connectTimeout(
                timeout.compareTo(Duration.ofSeconds(3)) < 0 ? timeout : Duration.ofSeconds(3))
            .followRedirects(HttpClient.Redirect.NORMAL)
            .build();
    this.urls.forEach(url -> servers.put(url, new Server()));
  }

  /** Fetches once now, then keeps refreshing in the background until closed. */
  public ComfyUiNodeCatalogues start() {
    fetchAll();
    refresher =
        Thread.ofVirtual()
            .name("tempera-node-catalogues")
            .start(() -> {
              while (!Thread.currentThread().isInterrupted()) {
                try {
                  synchronized (wake) {
                    if (!soon) {
                      wake.wait(anyUnknown() ? UNKNOWN_RETRY.toMillis() : refresh.toMillis());
                    }
                    soon = false;
                  }
                  fetchAll();
                } catch (InterruptedException stop) {
                  return;
                } catch (RuntimeException e) {
                  log.warn("refreshing the ComfyUI node catalogues failed: {}", e.toString());
                }
              }
            });
    return this;
  }

  @Override
  public Optional<NodeCatalogue> catalogueFor(ModelSpec model) {
    if (model != null && model.containerised() && containersOnDemand) {
      return Optional.empty();
    }
    return combined;
  }

  @Override
  public void refreshSoon() {
    synchronized (wake) {
      soon = true;
      wake.notifyAll();
    }
  }

  /** Asks every server once; the combined catalogue changes only when one of them did. */
  synchronized void fetchAll() {
    boolean changed = false;
    for (Map.Entry<URI, Server> e : servers.entrySet()) {
      changed |= fetch(e.getKey(), e.getValue());
    }
    if (changed) {
      List<NodeCatalogue> known = new ArrayList<>();
      servers
          .values()
          .forEach(s -> {
            if (s.catalogue != null) {
              known.add(s.catalogue);
            }
          });
      combined = known.stream().reduce(NodeCatalogue::intersect);
    }
  }

  /** True when the server's catalogue changed. */
  private boolean fetch(URI url, Server server) {
    NodeCatalogue.Parsed parsed;
    try {
      parsed = NodeCatalogue.parse(get(url), "the ComfyUI at " + url);
    } catch (IOException | RuntimeException e) {
      String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
      if (server.failure == null) {
        if (server.catalogue == null) {
          log.warn(
              "the ComfyUI at {} did not answer /object_info ({}): templates are not checked"
                  + " against its nodes until it does",
              url,
              why);
        } else {
          log.warn(
              "the ComfyUI at {} did not answer /object_info ({}): templates stay checked against"
                  + " its last known node catalogue",
              url,
              why);
        }
      }
      server.failure = why;
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
    if (server.failure != null && server.catalogue != null) {
      log.info("the ComfyUI at {} answers /object_info again", url);
    }
    server.failure = null;
    parsed
        .skipped()
        .forEach(
            s -> log.warn("the ComfyUI at {}: node class left out of its catalogue: {}", url, s));
    if (parsed.catalogue().equals(server.catalogue)) {
      return false;
    }
    log.info(
        "node catalogue of the ComfyUI at {}: {} node classes{}",
        url,
        parsed.catalogue().classes().size(),
        server.catalogue == null ? "" : " (changed)");
    server.catalogue = parsed.catalogue();
    return true;
  }

  private JsonNode get(URI base) throws IOException, InterruptedException {
    String root = base.toString().replaceAll("/+$", "");
    HttpResponse<byte[]> response =
        http.send(
            HttpRequest.newBuilder(URI.create(root + "/object_info"))
                .timeout(timeout)
                .header("accept", "application/json")
                .GET()
                .build(),
            HttpResponse.BodyHandlers.ofByteArray());
    if (response.statusCode() != 200) {
      throw new IOException("HTTP " + response.statusCode());
    }
    return json.readTree(response.body());
  }

  private boolean anyUnknown() {
    return servers.values().stream().anyMatch(s -> s.catalogue == null);
  }

  /** The servers asked, for logs and tests. */
  public List<URI> urls() {
    return urls;
  }

  @Override
  public void close() {
    Thread t = refresher;
    if (t != null) {
      t.interrupt();
    }
  }
}
