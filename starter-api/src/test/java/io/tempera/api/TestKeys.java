package io.tempera.api;

import io.tempera.security.ApiKeyStore;
import io.tempera.security.Caller;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Keys for the API tests: made in the server's keys file, as an operator would. */
final class TestKeys {

  private static final Map<String, String> KEYS = new ConcurrentHashMap<>();

  private TestKeys() {}

  /** An operator key (acts for every project) in {@code store}'s file. */
  static String operator(ApiKeyStore store) {
    return KEYS.computeIfAbsent(
        store.file() + "#operator",
        k -> store.create(Caller.Role.OPERATOR, null, "starter-api tests").secret());
  }

  /** A key of {@code project} in {@code store}'s file. */
  static String project(ApiKeyStore store, String project) {
    return KEYS.computeIfAbsent(
        store.file() + "#" + project,
        k -> store.create(Caller.Role.PROJECT, project, "starter-api tests").secret());
  }

  /** The same, in the keys file at {@code file} (for static sources of test cases). */
  static String project(Path file, String project) {
    return project(new ApiKeyStore(file), project);
  }

  static String operator(Path file) {
    return operator(new ApiKeyStore(file));
  }

  /** A request with an operator key. */
  static HttpRequest.Builder request(ApiKeyStore store, URI uri) {
    return HttpRequest.newBuilder(uri).header("Authorization", "Bearer " + operator(store));
  }
}
