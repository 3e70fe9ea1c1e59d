package io.tempera.observability;

import io.micrometer.core.instrument.Counter;
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
  private final Counter sent;

  public OpenConnections(MeterRegistry registry) {
    sent =
        Counter.builder("tempera.sse.events.sent")
            .description(
                "Server-sent events written to clients (state, progress, end), each flushed")
            .register(registry);
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
    if (open == sockets) {
      return chain.filter(exchange).doOnSuccess(done -> countSocket(exchange));
    }
    ServerWebExchange counted =
        open == streams
            ? exchange.mutate().response(new CountingEvents(exchange.getResponse())).build()
            : exchange;
    return chain
        .filter(counted)
        .doOnSubscribe(s -> open.incrementAndGet())
        .doFinally(s -> open.decrementAndGet());
  }

  /**
   * A socket's exchange ends once the handshake is done: it is counted from then until its
   * connection closes (Reactor Netty's channel), when the upgrade took place.
   */
  private void countSocket(ServerWebExchange exchange) {
    Object request =
        org.springframework.http.server.reactive.ServerHttpRequestDecorator.getNativeRequest(
            exchange.getRequest());
    if (!(request instanceof reactor.netty.Connection connection)) {
      return;
    }
    io.netty.channel.Channel channel = connection.channel();
    if (channel.pipeline().get("wsdecoder") == null || !channel.isActive()) {
      return; // refused (no key, bad origin): no socket
    }
    sockets.incrementAndGet();
    channel.closeFuture().addListener(closed -> sockets.decrementAndGet());
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

  /** An event stream's response: each flushed part is one event (Spring writes them so). */
  private final class CountingEvents
      extends org.springframework.http.server.reactive.ServerHttpResponseDecorator {

    CountingEvents(org.springframework.http.server.reactive.ServerHttpResponse response) {
      super(response);
    }

    @Override
    public Mono<Void> writeAndFlushWith(
        org.reactivestreams.Publisher<
                ? extends
                    org.reactivestreams.Publisher<
                        ? extends org.springframework.core.io.buffer.DataBuffer>>
            body) {
      return super.writeAndFlushWith(
          reactor.core.publisher.Flux.from(body).doOnNext(event -> sent.increment()));
    }
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
