package io.tempera.progress.redis;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.tempera.progress.ProgressBus;
import io.tempera.progress.ProgressEvent;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The progress bus across hosts: workers publish on the Redis channel {@code task:progress:{id}},
 * every API instance subscribes to the channels its clients follow. One round trip per event: a
 * script numbers it ({@code task:seq:{id}}), keeps it as the latest ({@code task:latest:{id}}) and
 * publishes it. A Redis outage never fails a generation: publishing then logs and goes on.
 *
 * <p>Listeners are not called on the Redis client's I/O thread, which every followed channel of
 * this API shares: each channel has its own lane, drained in order on a virtual thread, so a
 * follower's work (reading the event, the feed, writing it to its socket) never holds the messages
 * of the other channels behind it, nor, in a process that also publishes (a worker beside the API),
 * the replies to its publishes: with 100 channels at 20 Hz and 0.1 ms of work per listener on a
 * loaded 2-core machine, publishes then timed out and progress was lost.
 */
public final class RedisProgressBus implements ProgressBus, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(RedisProgressBus.class);
  private static final String PUBLISH_SCRIPT =
      """
      local seq = redis.call('INCR', KEYS[1])
      redis.call('EXPIRE', KEYS[1], ARGV[2])
      local event = string.gsub(ARGV[1], '"seq":0,', '"seq":' .. seq .. ',', 1)
      redis.call('SET', KEYS[2], event, 'EX', ARGV[2])
      redis.call('PUBLISH', KEYS[3], event)
      return seq\
      """;

  private final RedisClient client;
  private final StatefulRedisConnection<String, String> commands;
  private final StatefulRedisPubSubConnection<String, String> pubsub;
  private final Map<String, Set<Consumer<ProgressEvent>>> listeners = new ConcurrentHashMap<>();

  /** Each subscribed channel's messages not yet given to its listeners, in order. */
  private final Map<String, Lane> lanes = new ConcurrentHashMap<>();

  private final java.util.concurrent.ExecutorService deliveries =
      java.util.concurrent.Executors.newThreadPerTaskExecutor(
          Thread.ofVirtual().name("redis-progress-delivery-", 0).factory());
  private final ObjectMapper json = new ObjectMapper();
  private final long ttlSeconds;

  private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
  private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(1);

  /** How long a starting app waits for Redis to answer (it may start after the app). */
  private static final Duration STARTUP_WAIT = Duration.ofSeconds(60);

  /**
   * A connection made by {@code connect}, tried again with backoff (0.5 s up to 5 s) while Redis
   * does not answer, for at most {@link #STARTUP_WAIT}: in a deployment Redis may come up after the
   * app.
   */
  private static <C> C connect(String redisUrl, java.util.function.Supplier<C> connect) {
    long deadline = System.nanoTime() + STARTUP_WAIT.toNanos();
    long backoffMillis = 500;
    while (true) {
      try {
        return connect.get();
      } catch (io.lettuce.core.RedisConnectionException notYet) {
        if (System.nanoTime() + backoffMillis * 1_000_000 > deadline) {
          throw notYet;
        }
        log.warn(
            "Redis at {} does not answer yet ({}); trying again in {} ms",
            redact(redisUrl),
            notYet.getMessage(),
            backoffMillis);
        try {
          Thread.sleep(backoffMillis);
        } catch (InterruptedException interrupted) {
          Thread.currentThread().interrupt();
          throw notYet;
        }
        backoffMillis = Math.min(5_000, backoffMillis * 2);
      }
    }
  }

  /** The URL without a password, for logs. */
  private static String redact(String redisUrl) {
    return redisUrl.replaceAll("//[^@/]*@", "//***@");
  }

  public RedisProgressBus(String redisUrl, Duration ttl) {
    RedisURI uri = RedisURI.create(redisUrl);
    // a connection's first handshake may take seconds on a busy host (a JVM starting beside
    // others);
    // once connected, a command that takes over a second is given up (progress never waits long)
    uri.setTimeout(CONNECT_TIMEOUT);
    this.client = RedisClient.create(uri);
    this.commands = connect(redisUrl, client::connect);
    this.pubsub = connect(redisUrl, client::connectPubSub);
    commands.setTimeout(COMMAND_TIMEOUT);
    pubsub.setTimeout(COMMAND_TIMEOUT);
    this.ttlSeconds = Math.max(1, ttl.toSeconds());
    pubsub.addListener(
        new RedisPubSubAdapter<>() {
          @Override
          public void message(String channel, String message) {
            Lane lane = lanes.get(channel);
            if (lane != null) {
              lane.offer(message);
            }
          }
        });
  }

  static String sequenceKey(String generationId) {
    return "task:seq:" + generationId;
  }

  static String latestKey(String generationId) {
    return "task:latest:" + generationId;
  }

  @Override
  public ProgressEvent publish(ProgressEvent event) {
    String id = event.generationId();
    try {
      String unnumbered = json.writeValueAsString(event.withSeq(0));
      Long seq =
          commands
              .sync()
              .eval(
                  PUBLISH_SCRIPT,
                  ScriptOutputType.INTEGER,
                  new String[] {sequenceKey(id), latestKey(id), ProgressBus.channel(id)},
                  unnumbered,
                  Long.toString(ttlSeconds));
      return event.withSeq(seq);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a progress event could not be written as JSON", e);
    } catch (RuntimeException e) {
      log.warn("progress of {} not published: Redis is unavailable ({})", id, e.getMessage());
      return event.withSeq(0);
    }
  }

  @Override
  public void publishEnd(String generationId) {
    try {
      commands
          .async()
          .publish(
              ProgressBus.channel(generationId),
              json.writeValueAsString(ProgressEvent.ended(generationId)))
          .exceptionally(e -> {
            log.warn(
                "the end of {} not published: Redis is unavailable ({})",
                generationId,
                e.getMessage());
            return null;
          });
    } catch (JsonProcessingException | RuntimeException e) {
      // called from workflow code: never throws (a lost notice is found by the followers' check)
      log.warn("the end of {} not published: {}", generationId, e.getMessage());
    }
  }

  /** Every worker sharing this Redis publishes its generations' ends on it. */
  @Override
  public boolean carriesEnds() {
    return true;
  }

  @Override
  public void endsPublishedHere() {
    // carried across processes already
  }

  @Override
  public Optional<ProgressEvent> latest(String generationId) {
    try {
      String value = commands.sync().get(latestKey(generationId));
      return value == null
          ? Optional.empty()
          : Optional.of(json.readValue(value, ProgressEvent.class));
    } catch (JsonProcessingException e) {
      log.warn("unreadable latest progress of {}", generationId, e);
      return Optional.empty();
    } catch (RuntimeException e) {
      log.warn("latest progress of {} unavailable: {}", generationId, e.getMessage());
      return Optional.empty();
    }
  }

  @Override
  public AutoCloseable subscribe(String generationId, Consumer<ProgressEvent> listener) {
    String channel = ProgressBus.channel(generationId);
    synchronized (listeners) {
      Set<Consumer<ProgressEvent>> set =
          listeners.computeIfAbsent(channel, k -> new CopyOnWriteArraySet<>());
      boolean first = set.isEmpty();
      set.add(listener);
      if (first) {
        lanes.put(channel, new Lane(channel));
        pubsub.sync().subscribe(channel);
      }
    }
    return () -> {
      synchronized (listeners) {
        Set<Consumer<ProgressEvent>> set = listeners.get(channel);
        if (set != null && set.remove(listener) && set.isEmpty()) {
          listeners.remove(channel);
          lanes.remove(channel);
          pubsub
              .async()
              .unsubscribe(channel)
              .exceptionally(e -> {
                log.warn("unsubscribing from {} failed", channel, e);
                return null;
              });
        }
      }
    };
  }

  private void dispatch(String channel, String message) {
    Set<Consumer<ProgressEvent>> set = listeners.get(channel);
    if (set == null) {
      return;
    }
    ProgressEvent event;
    try {
      event = json.readValue(message, ProgressEvent.class);
    } catch (JsonProcessingException e) {
      log.warn("unreadable progress message on {}", channel, e);
      return;
    }
    for (Consumer<ProgressEvent> listener : set) {
      try {
        listener.accept(event);
      } catch (RuntimeException e) {
        log.warn("progress listener for {} failed", channel, e);
      }
    }
  }

  @Override
  public void close() {
    pubsub.close();
    commands.close();
    client.shutdown();
    deliveries.shutdownNow();
  }

  /**
   * One channel's messages on their way to its listeners: queued by the I/O thread, given out in
   * arrival order by at most one delivery at a time (started when the first of a batch arrives).
   */
  private final class Lane implements Runnable {
    private final String channel;
    private final java.util.Queue<String> messages =
        new java.util.concurrent.ConcurrentLinkedQueue<>();
    private final java.util.concurrent.atomic.AtomicBoolean delivering =
        new java.util.concurrent.atomic.AtomicBoolean();

    Lane(String channel) {
      this.channel = channel;
    }

    void offer(String message) {
      messages.add(message);
      startDelivering();
    }

    private void startDelivering() {
      if (delivering.compareAndSet(false, true)) {
        try {
          deliveries.execute(this);
        } catch (java.util.concurrent.RejectedExecutionException closed) {
          delivering.set(false);
        }
      }
    }

    @Override
    public void run() {
      try {
        for (String message = messages.poll(); message != null; message = messages.poll()) {
          dispatch(channel, message);
        }
      } finally {
        delivering.set(false);
      }
      if (!messages.isEmpty()) {
        // a message that came after the last poll and before the flag went down
        startDelivering();
      }
    }
  }
}
