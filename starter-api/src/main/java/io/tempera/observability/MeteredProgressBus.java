package io.tempera.observability;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.tempera.progress.ProgressBus;
import io.tempera.progress.ProgressEvent;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;

/**
 * A progress bus that counts what passes through it: events this process published (a worker's
 * phases and progress, generations' ends) and events it handed to the followers it serves (an API's
 * streams and sockets share one subscription per generation). Prometheus: {@code
 * tempera_progress_events_published_total{type}} and {@code
 * tempera_progress_events_received_total{type}}, type phase, progress or ended.
 */
public final class MeteredProgressBus implements ProgressBus, AutoCloseable {

  private static final Set<String> TYPES =
      Set.of(ProgressEvent.PHASE, ProgressEvent.PROGRESS, ProgressEvent.ENDED);

  private final ProgressBus bus;
  private final MeterRegistry registry;

  public MeteredProgressBus(ProgressBus bus, MeterRegistry registry) {
    this.bus = bus;
    this.registry = registry;
  }

  /** The bus it counts for (in-process or Redis). */
  public ProgressBus delegate() {
    return bus;
  }

  private Counter counter(String name, String description, String type) {
    return Counter.builder(name)
        .description(description)
        .tag("type", type != null && TYPES.contains(type) ? type : "other")
        .register(registry);
  }

  private void published(String type) {
    counter("tempera.progress.events.published", "Progress events this process published", type)
        .increment();
  }

  @Override
  public ProgressEvent publish(ProgressEvent event) {
    ProgressEvent published = bus.publish(event);
    published(event.type());
    return published;
  }

  @Override
  public void publishEnd(String generationId) {
    bus.publishEnd(generationId);
    published(ProgressEvent.ENDED);
  }

  @Override
  public boolean carriesEnds() {
    return bus.carriesEnds();
  }

  @Override
  public void endsPublishedHere() {
    bus.endsPublishedHere();
  }

  @Override
  public Optional<ProgressEvent> latest(String generationId) {
    return bus.latest(generationId);
  }

  @Override
  public AutoCloseable subscribe(String generationId, Consumer<ProgressEvent> listener) {
    return bus.subscribe(
        generationId,
        event -> {
          counter(
                  "tempera.progress.events.received",
                  "Progress events the bus handed to this process's followers",
                  event.type())
              .increment();
          listener.accept(event);
        });
  }

  @Override
  public void close() throws Exception {
    if (bus instanceof AutoCloseable closeable) {
      closeable.close();
    }
  }
}
