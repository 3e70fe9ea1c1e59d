package io.tempera.progress;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The progress bus of a single process: listeners are called on the publisher's thread. */
public final class InProcessProgressBus implements ProgressBus {

  private static final Logger log = LoggerFactory.getLogger(InProcessProgressBus.class);
  private static final int REMEMBERED_GENERATIONS = 10_000;

  private final Map<String, Set<Consumer<ProgressEvent>>> listeners = new ConcurrentHashMap<>();
  private final Map<String, ProgressEvent> latest =
      java.util.Collections.synchronizedMap(
          new LinkedHashMap<>(1024, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, ProgressEvent> eldest) {
              return size() > REMEMBERED_GENERATIONS;
            }
          });

  private volatile boolean endsPublished;

  @Override
  public ProgressEvent publish(ProgressEvent event) {
    ProgressEvent numbered;
    synchronized (latest) {
      ProgressEvent previous = latest.get(event.generationId());
      numbered = event.withSeq(previous == null ? 1 : previous.seq() + 1);
      latest.put(event.generationId(), numbered);
    }
    dispatch(numbered);
    return numbered;
  }

  private void dispatch(ProgressEvent event) {
    Set<Consumer<ProgressEvent>> subscribers = listeners.get(event.generationId());
    if (subscribers != null) {
      for (Consumer<ProgressEvent> listener : subscribers) {
        try {
          listener.accept(event);
        } catch (RuntimeException e) {
          log.warn("progress listener for {} failed", event.generationId(), e);
        }
      }
    }
  }

  @Override
  public void publishEnd(String generationId) {
    dispatch(ProgressEvent.ended(generationId));
  }

  @Override
  public boolean carriesEnds() {
    return endsPublished;
  }

  @Override
  public void endsPublishedHere() {
    endsPublished = true;
  }

  @Override
  public Optional<ProgressEvent> latest(String generationId) {
    return Optional.ofNullable(latest.get(generationId));
  }

  @Override
  public AutoCloseable subscribe(String generationId, Consumer<ProgressEvent> listener) {
    listeners.computeIfAbsent(generationId, k -> new CopyOnWriteArraySet<>()).add(listener);
    return () ->
        listeners.computeIfPresent(
            generationId,
            (k, set) -> {
              set.remove(listener);
              return set.isEmpty() ? null : set;
            });
  }
}
