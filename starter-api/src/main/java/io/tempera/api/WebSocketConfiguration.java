package io.tempera.api;

import java.util.Map;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.reactive.HandlerMapping;
import org.springframework.web.reactive.handler.SimpleUrlHandlerMapping;

/** Routes {@code /ws} to the canvas protocol. */
@Configuration(proxyBeanMethods = false)
public class WebSocketConfiguration {

  @Bean
  public HandlerMapping canvasWebSocketMapping(CanvasWebSocketHandler handler) {
    return new SimpleUrlHandlerMapping(Map.of("/ws", handler), -1);
  }
}
