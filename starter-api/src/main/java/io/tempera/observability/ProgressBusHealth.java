package io.tempera.observability;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/**
 * {@code progressBus} in {@code /actuator/health} and the readiness group: with Redis configured
 * ({@code tempera.progress.redis-url}), UP while Redis answers a PING within the timeout and DOWN
 * (with the reason) while it does not, on a connection of its own made again after a failure;
 * in-process, always UP.
 */
public final class ProgressBusHealth implements HealthIndicator, AutoCloseable {

  private final RedisClient client;
  private StatefulRedisConnection<String, String> connection;

  /**
   * @param redisUrl null or blank: the in-process bus
   */
  public ProgressBusHealth(String redisUrl, Duration timeout) {
    if (redisUrl == null || redisUrl.isBlank()) {
      client = null;
      return;
    }
    RedisURI uri = RedisURI.create(redisUrl);
    uri.setTimeout(timeout);
    client = RedisClient.create(uri);
    client.setOptions(
        io.lettuce.core.ClientOptions.builder()
            .autoReconnect(false)
            .socketOptions(io.lettuce.core.SocketOptions.builder().connectTimeout(timeout).build())
            .build());
  }

  @Override
  public synchronized Health health() {
    if (client == null) {
      return Health.up().withDetail("bus", "in-process").build();
    }
    try {
      if (connection == null || !connection.isOpen()) {
        closeConnection();
        connection = client.connect();
      }
      connection.sync().ping();
      return Health.up().withDetail("bus", "redis").build();
    } catch (RuntimeException e) {
      closeConnection();
      return Health.down()
          .withDetail("bus", "redis")
          .withDetail("reason", "Redis does not answer: " + e.getMessage())
          .build();
    }
  }

  private void closeConnection() {
    if (connection != null) {
      try {
        connection.close();
      } catch (RuntimeException ignored) {
        // already broken
      }
      connection = null;
    }
  }

  @Override
  public synchronized void close() {
    closeConnection();
    if (client != null) {
      client.shutdown();
    }
  }
}
