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
  private final Counter coalesced;

  public OpenConnections(MeterRegistry registry) {
    sent =
        Counter.builder("tempera.sse.events.sent")
            .description(
                "Server-sent events written to clients (state, progress, end), each flushed")
            .register(registry);
    coalesced =
        Counter.builder("tempera.sse.events.coalesced")
            .description(
                "Progress a slow SSE client never got (latest wins): the gaps in its events' ids")
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
    // counted before the chain runs (it may write at once), until it ends however it ends
    return Mono.defer(
            () -> {
              open.incrementAndGet();
              return chain.filter(counted);
            })
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

  /**
   * An event stream's response: each flushed part is one event (Spring writes them so); an event's
   * id is its generation's progress number, so a gap between two ids is progress coalesced away for
   * this client (a slow one gets the latest).
   */
  private final class CountingEvents
      extends org.springframework.http.server.reactive.ServerHttpResponseDecorator {

    private long lastId = -1;

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
          reactor.core.publisher.Flux.from(body)
              .map(event -> {
                sent.increment();
                return reactor.core.publisher.Flux.from(event).doOnNext(this::readId);
              }));
    }

    private void readId(org.springframework.core.io.buffer.DataBuffer part) {
      String text =
          part.toString(
              part.readPosition(),
              part.readableByteCount(),
              java.nio.charset.StandardCharsets.UTF_8);
      int at = text.startsWith("id:") ? 0 : text.indexOf("\nid:");
      if (at < 0) {
        return;
      }
      int start = at == 0 ? 3 : at + 4;
      int end = text.indexOf('\n', start);
      try {
        long id = Long.parseLong(text.substring(start, end < 0 ? text.length() : end).trim());
        synchronized (this) {
          if (lastId >= 0 && id > lastId + 1) {
            coalesced.increment(id - lastId - 1);
          }
          lastId = Math.max(lastId, id);
        }
      } catch (NumberFormatException notANumber) {
        // not one of ours
      }
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
