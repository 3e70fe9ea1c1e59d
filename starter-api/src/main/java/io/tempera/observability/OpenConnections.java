package io.tempera.observability;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.concurrent.atomic.AtomicInteger;
import org.springframework.http.HttpMethod;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.publisher.Mono;

/**
 * Counts the open event streams ({@code GET /api/generations/{id}/events}) and WebSocket
 * connections, from the request's arrival until its exchange ends (a stream: its last event or the
 * client leaving; a socket: it closing). Prometheus: {@code
 * tempera_connections_open{kind="sse"|"websocket"}}.
 */
public final class OpenConnections implements WebFilter {

  private final AtomicInteger streams = new AtomicInteger();
  private final AtomicInteger sockets = new AtomicInteger();

  public OpenConnections(MeterRegistry registry) {
    Gauge.builder("tempera.connections.open", streams, AtomicInteger::get)
        .description("Open connections: server-sent event streams (sse) and WebSockets")
        .tag("kind", "sse")
        .register(registry);
    Gauge.builder("tempera.connections.open", sockets, AtomicInteger::get)
        .description("Open connections: server-sent event streams (sse) and WebSockets")
        .tag("kind", "websocket")
        .register(registry);
  }

  @Override
  public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
    AtomicInteger open = kind(exchange);
    if (open == null) {
      return chain.filter(exchange);
    }
    return chain
        .filter(exchange)
        .doOnSubscribe(s -> open.incrementAndGet())
        .doFinally(s -> open.decrementAndGet());
  }

  private AtomicInteger kind(ServerWebExchange exchange) {
    var request = exchange.getRequest();
    if ("websocket".equalsIgnoreCase(request.getHeaders().getUpgrade())) {
      return sockets;
    }
    String path = request.getPath().pathWithinApplication().value();
    if (request.getMethod() == HttpMethod.GET
        && path.startsWith("/api/generations/")
        && path.endsWith("/events")) {
      return streams;
    }
    return null;
  }

  /** Open event streams now. */
  public int streams() {
    return streams.get();
  }

  /** Open WebSockets now. */
  public int sockets() {
    return sockets.get();
  }
}
