package io.tempera.embedded;

import io.tempera.generation.GenerationSearchAttributes;
import io.tempera.testkit.comfyui.ComfyUiTestServer;
import io.tempera.worker.ComfyUiUrls;
import io.temporal.api.enums.v1.IndexedValueType;
import io.temporal.testing.TestWorkflowEnvironment;
import java.nio.file.Path;
import java.util.List;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.SmartInitializingSingleton;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** The embedded default backend: the testkit ComfyUI server, in process, no GPU needed. */
@Configuration(proxyBeanMethods = false)
public class EmbeddedConfiguration {

  /**
   * The in-process Temporal server runs on real time: time skipping, a testing aid, would let an
   * idle system jump ahead to the slot allocator's run timeout (and fire every timer early).
   */
  @Bean
  public io.temporal.spring.boot.TemporalOptionsCustomizer<
          io.temporal.testing.TestEnvironmentOptions.Builder>
      realTime() {
    return options -> options.setUseTimeskipping(false);
  }

  @Bean(destroyMethod = "close")
  public ComfyUiTestServer embeddedComfyUi(
      @Value("${tempera.embedded.comfyui-port:8188}") int port,
      @Value("${tempera.embedded.comfyui-data:.tempera/comfyui}") Path dataDir) {
    return ComfyUiTestServer.start(new ComfyUiTestServer.Config(port, dataDir, "127.0.0.1"));
  }

  /** The worker's ComfyUI backend runs on the in-process testkit server. */
  @Bean
  public ComfyUiUrls embeddedComfyUiUrls(ComfyUiTestServer embeddedComfyUi) {
    return () -> List.of(embeddedComfyUi.baseUrl());
  }

  /**
   * Registers the Tempera* search attributes on the in-process Temporal server (with a real server,
   * {@code ./tempera run --temporal} registers them with the Temporal CLI).
   */
  @Bean
  public SmartInitializingSingleton registerSearchAttributes(
      ObjectProvider<TestWorkflowEnvironment> temporal) {
    return () ->
        temporal.ifAvailable(env ->
            GenerationSearchAttributes.ALL.forEach(key ->
                env.registerSearchAttribute(
                    key.getName(), IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD)));
  }
}
