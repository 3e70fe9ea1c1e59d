package io.tempera.observability;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.DefaultDataBufferFactory;
import org.springframework.mock.http.server.reactive.MockServerHttpRequest;
import org.springframework.mock.web.server.MockServerWebExchange;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/** An event stream's events are counted, and the ids a slow client never got are coalesced. */
class OpenConnectionsTest {

  private static DataBuffer text(String s) {
    return DefaultDataBufferFactory.sharedInstance.wrap(s.getBytes(StandardCharsets.UTF_8));
  }

  /** One event as Spring's SSE writer flushes it: its head, its data, its end. */
  private static Flux<DataBuffer> event(String head) {
    return Flux.just(text(head + "data:"), text("{\"progress\":0.5}"), text("\n\n"));
  }

  @Test
  void eventsAreCountedAndGapsInTheirIdsAreCoalescedProgress() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    OpenConnections connections = new OpenConnections(registry);
    MockServerWebExchange exchange =
        MockServerWebExchange.from(
            MockServerHttpRequest.get("/api/generations/gen-1/events")
                .header("accept", "text/event-stream"));
    int[] openDuring = new int[1];

    connections
        .filter(
            exchange,
            ex ->
                Mono.defer(() -> {
                  // while the stream is written
                  openDuring[0] = connections.streams();
                  return ex.getResponse()
                      .writeAndFlushWith(
                          Flux.just(
                              event("id:3\nevent:state\n"),
                              event("id:4\nevent:progress\n"),
                              Flux.just(text(":keep-alive\n\n")),
                              event("id:7\nevent:progress\n"),
                              event("id:8\nevent:progress\n"),
                              event("id:12\nevent:succeeded\n")));
                }))
        .block();

    assertThat(openDuring[0]).isEqualTo(1);
    assertThat(connections.streams()).isZero();
    assertThat(registry.get("tempera.sse.events.sent").counter().count()).isEqualTo(6.0);
    // 5 and 6, then 9, 10 and 11 never reached this client
    assertThat(registry.get("tempera.sse.events.coalesced").counter().count()).isEqualTo(5.0);
  }

  @Test
  void otherRequestsAreNeitherStreamsNorCounted() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    OpenConnections connections = new OpenConnections(registry);
    int[] openDuring = {-1};

    connections
        .filter(
            MockServerWebExchange.from(MockServerHttpRequest.get("/api/generations/gen-1")),
            ex ->
                Mono.defer(() -> {
                  openDuring[0] = connections.streams() + connections.sockets();
                  return Mono.<Void>empty();
                }))
        .block();

    assertThat(openDuring[0]).isZero();
    assertThat(registry.get("tempera.sse.events.sent").counter().count()).isZero();
  }
}
