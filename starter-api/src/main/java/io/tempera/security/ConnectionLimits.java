package io.tempera.security;

import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * How many following connections (SSE streams and canvas WebSockets) a project key holds at once
 * ({@code tempera.limits.max-connections-per-key}): one leaked or hostile key cannot take the
 * server's connections. Operator keys (trusted services, a canvas back end fanning out) are not
 * counted.
 */
public final class ConnectionLimits {

  private final int perKey;
  private final Map<String, AtomicInteger> open = new ConcurrentHashMap<>();

  public ConnectionLimits(int perKey) {
    this.perKey = perKey;
  }

  public int perKey() {
    return perKey;
  }

  /** A held connection; closing it (once) gives it back. */
  public interface Held extends AutoCloseable {
    @Override
    void close();
  }

  /** A connection for {@code caller}, or empty when its key holds the most it may. */
  public Optional<Held> open(Caller caller) {
    if (caller == null || caller.operator()) {
      return Optional.of(() -> {});
    }
    AtomicInteger count = open.computeIfAbsent(caller.keyId(), k -> new AtomicInteger());
    if (count.incrementAndGet() > perKey) {
      count.decrementAndGet();
      return Optional.empty();
    }
    AtomicBoolean closed = new AtomicBoolean();
    return Optional.of(() -> {
      if (closed.compareAndSet(false, true)) {
        count.decrementAndGet();
      }
    });
  }

  /** The connections {@code keyId} holds now. */
  public int held(String keyId) {
    AtomicInteger count = open.get(keyId);
    return count == null ? 0 : count.get();
  }
}
