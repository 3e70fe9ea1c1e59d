package io.tempera.config;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.models.ModelSpec;
import io.tempera.template.NodeCatalogue;
import io.tempera.testkit.comfyui.ComfyUiTestServer;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The node catalogues fetched from the servers' /object_info: a server that stops answering keeps
 * its last known catalogue, one that never answered fails nothing, several are intersected, and a
 * containerised model's tiers are not checked while containers start on demand.
 */
class ComfyUiNodeCataloguesTest {

  static final ObjectMapper JSON = new ObjectMapper();

  static ComfyUiTestServer server() throws IOException {
    return ComfyUiTestServer.start(
        ComfyUiTestServer.Config.ephemeral(Files.createTempDirectory("catalogues")));
  }

  /** A local port nothing listens on. */
  static URI nobody() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return URI.create("http://127.0.0.1:" + socket.getLocalPort());
    }
  }

  static ComfyUiNodeCatalogues catalogues(boolean containersOnDemand, URI... urls) {
    return new ComfyUiNodeCatalogues(
        List.of(urls), JSON, Duration.ofMinutes(1), Duration.ofSeconds(5), containersOnDemand);
  }

  static ModelSpec containerised() {
    return new ModelSpec(
        "testkit-comfyui",
        "comfyui",
        "tempera/testkit-comfyui:test",
        List.of(),
        Map.of(),
        8188,
        "/system_stats",
        512,
        60,
        null);
  }

  @Test
  void aServerThatStopsAnsweringKeepsItsLastKnownCatalogue() throws IOException {
    java.nio.file.Path data = Files.createTempDirectory("catalogues");
    ComfyUiTestServer server = ComfyUiTestServer.start(ComfyUiTestServer.Config.ephemeral(data));
    try (ComfyUiNodeCatalogues catalogues = catalogues(false, server.baseUrl())) {
      catalogues.fetchAll();
      NodeCatalogue first = catalogues.catalogueFor(null).orElseThrow();
      assertThat(first.classes()).containsKeys("LoadImage", "SaveImage", "TemperaDelay");
      assertThat(first.source()).isEqualTo("the ComfyUI at " + server.baseUrl());

      // an upload changes LoadImage's choices (the input folder) but not the catalogue: the
      // registry checks nothing again
      Files.createDirectories(data.resolve("input"));
      Files.write(data.resolve("input/uploaded.png"), new byte[] {1});
      catalogues.fetchAll();
      assertThat(catalogues.catalogueFor(null).orElseThrow()).isSameAs(first);

      server.close();
      catalogues.fetchAll();
      assertThat(catalogues.catalogueFor(null)).containsSame(first);
    }
  }

  @Test
  void aServerThatNeverAnsweredFailsNothingAndTheOthersAreIntersected() throws IOException {
    URI nobody = nobody();
    try (ComfyUiNodeCatalogues none = catalogues(false, nobody)) {
      none.fetchAll();
      assertThat(none.catalogueFor(null)).isEmpty();
    }
    try (ComfyUiTestServer a = server();
        ComfyUiTestServer b = server();
        ComfyUiNodeCatalogues catalogues = catalogues(false, a.baseUrl(), nobody, b.baseUrl())) {
      catalogues.fetchAll();
      NodeCatalogue both = catalogues.catalogueFor(null).orElseThrow();
      assertThat(both.source())
          .isEqualTo("the ComfyUI at " + a.baseUrl() + " and the ComfyUI at " + b.baseUrl());
      assertThat(both.classes()).containsKeys("LoadImage", "SaveImage");
    }
  }

  @Test
  void aContainerisedModelsTiersAreNotCheckedWhileContainersStartOnDemand() throws IOException {
    try (ComfyUiTestServer server = server();
        ComfyUiNodeCatalogues onDemand = catalogues(true, server.baseUrl());
        ComfyUiNodeCatalogues endpoints = catalogues(false, server.baseUrl())) {
      onDemand.fetchAll();
      endpoints.fetchAll();
      assertThat(onDemand.catalogueFor(null)).isPresent();
      assertThat(onDemand.catalogueFor(containerised())).isEmpty();
      assertThat(endpoints.catalogueFor(containerised())).isPresent();
    }
  }

  @Test
  void startFetchesAtOnceAndRefreshSoonFetchesAgain() throws Exception {
    URI late = nobody();
    try (ComfyUiNodeCatalogues catalogues =
        new ComfyUiNodeCatalogues(
                List.of(late), JSON, Duration.ofHours(1), Duration.ofSeconds(5), false)
            .start()) {
      assertThat(catalogues.catalogueFor(null)).isEmpty();
      // the server comes up on that port
      try (ComfyUiTestServer server =
          ComfyUiTestServer.start(
              new ComfyUiTestServer.Config(
                  late.getPort(), Files.createTempDirectory("late"), "127.0.0.1"))) {
        catalogues.refreshSoon();
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        Optional<NodeCatalogue> seen = Optional.empty();
        while (seen.isEmpty() && System.nanoTime() < deadline) {
          Thread.sleep(50);
          seen = catalogues.catalogueFor(null);
        }
        assertThat(seen).isPresent();
        assertThat(server.baseUrl().getPort()).isEqualTo(late.getPort());
      }
    }
  }
}
