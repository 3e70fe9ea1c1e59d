package io.tempera.api;

import java.util.Map;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.reactive.HandlerMapping;
import org.springframework.web.reactive.config.WebFluxConfigurer;
import org.springframework.web.reactive.handler.SimpleUrlHandlerMapping;
import org.springframework.web.reactive.socket.server.WebSocketService;
import org.springframework.web.reactive.socket.server.support.HandshakeWebSocketService;
import org.springframework.web.reactive.socket.server.upgrade.ReactorNettyRequestUpgradeStrategy;
import reactor.netty.http.server.WebsocketServerSpec;

/** Routes {@code /ws} to the canvas protocol. */
@Configuration(proxyBeanMethods = false)
public class WebSocketConfiguration implements WebFluxConfigurer {

  /**
   * Frames up to this size reach the handler, which answers anything over its own limit with a
   * {@code MESSAGE_TOO_LARGE} error; Reactor Netty's default (64 KiB) would close the socket
   * instead.
   */
  static final int MAX_FRAME_BYTES = 1024 * 1024;

  @Bean
  public HandlerMapping canvasWebSocketMapping(CanvasWebSocketHandler handler) {
    return new SimpleUrlHandlerMapping(Map.of("/ws", handler), -1);
  }

  @Override
  public WebSocketService getWebSocketService() {
    // Netty answers protocol-level pings itself (handlePing false, the default)
    return new HandshakeWebSocketService(
        new ReactorNettyRequestUpgradeStrategy(() ->
            WebsocketServerSpec.builder()
                .maxFramePayloadLength(MAX_FRAME_BYTES)
                .handlePing(false)));
  }
}
