package io.tempera.security;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KeysCommandTest {

  @TempDir Path dir;

  record Run(int status, String out, String err) {}

  Run run(Map<String, String> env, String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int status =
        KeysCommand.run(
            args,
            env,
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(
        status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void createListAndRevoke() {
    Map<String, String> env = Map.of("TEMPERA_KEYS_FILE", dir.resolve("keys.json").toString());
    Run made = run(env, "keys", "create", "--project", "alpha", "--name", "canvas");
    assertThat(made.status()).isZero();
    String key = made.out().trim();
    assertThat(key).matches(ApiKeyStore.KEY.pattern());
    assertThat(made.err()).contains("for project alpha").doesNotContain(key);
    ApiKeyStore store = new ApiKeyStore(dir.resolve("keys.json"));
    assertThat(store.authenticate(key)).map(Caller::projectId).contains("alpha");

    Run operator = run(env, "keys", "create", "--operator");
    assertThat(operator.status()).isZero();
    assertThat(store.authenticate(operator.out().trim())).map(Caller::operator).contains(true);

    Run list = run(env, "keys", "list");
    String id = key.substring(4, 16);
    assertThat(list.out()).contains(id).contains("alpha").contains("canvas").doesNotContain(key);

    assertThat(run(env, "keys", "revoke", id).status()).isZero();
    assertThat(new ApiKeyStore(dir.resolve("keys.json")).authenticate(key)).isEmpty();
    assertThat(run(env, "keys", "revoke", "AAAAAAAAAAAA").status()).isEqualTo(1);
  }

  @Test
  void badUseSaysHow() {
    Map<String, String> env = Map.of("TEMPERA_KEYS_FILE", dir.resolve("keys.json").toString());
    assertThat(run(env, "keys").status()).isEqualTo(2);
    assertThat(run(env, "keys", "create").err()).contains("--project");
    assertThat(run(env, "keys", "create", "--project", "a", "--operator").status()).isEqualTo(2);
    assertThat(run(env, "keys", "create", "--project", "../x").status()).isEqualTo(2);
    assertThat(run(env, "keys", "nope").err()).contains("unknown keys command");
    assertThat(run(env, "keys", "list", "--bogus").err()).contains("unknown option --bogus");
  }

  @Test
  void webhooksAllowListAndSigningSecret() {
    Map<String, String> env = Map.of("TEMPERA_KEYS_FILE", dir.resolve("keys.json").toString());
    Run allowed = run(env, "keys", "webhooks", "allow", "alpha", "Hooks.Example.com,*.example.org");
    assertThat(allowed.status()).isZero();
    String secret = allowed.out().trim();
    assertThat(secret).startsWith("whsec_").hasSizeGreaterThan(40);
    assertThat(allowed.err()).contains("hooks.example.com, *.example.org").doesNotContain(secret);
    ApiKeyStore store = new ApiKeyStore(dir.resolve("keys.json"));
    assertThat(store.webhooks("alpha").orElseThrow().allowedHosts())
        .containsExactly("hooks.example.com", "*.example.org");

    // the list again replaces it; the secret is shown the first time only
    Run again = run(env, "keys", "webhooks", "allow", "alpha", "203.0.113.9");
    assertThat(again.out()).isEmpty();
    assertThat(run(env, "keys", "webhooks", "list").out())
        .contains("alpha")
        .contains("203.0.113.9")
        .doesNotContain(secret);

    Run rotated = run(env, "keys", "webhooks", "rotate-secret", "alpha");
    String next = rotated.out().trim();
    assertThat(next).startsWith("whsec_").isNotEqualTo(secret);
    // the previous secret still signs for a while, after the new one
    assertThat(
            new ApiKeyStore(dir.resolve("keys.json"))
                .webhooks("alpha")
                .orElseThrow()
                .signingSecrets(java.time.Instant.now()))
        .containsExactly(next, secret);
    assertThat(
            new ApiKeyStore(dir.resolve("keys.json"))
                .webhooks("alpha")
                .orElseThrow()
                .signingSecrets(java.time.Instant.now().plus(java.time.Duration.ofHours(25))))
        .containsExactly(next);

    assertThat(run(env, "keys", "webhooks", "allow", "alpha", "not a host").status()).isEqualTo(2);
    assertThat(run(env, "keys", "webhooks", "allow", "../x", "a.com").status()).isEqualTo(2);
    assertThat(run(env, "keys", "webhooks").err()).contains("allow, rotate-secret or list");
  }

  @Test
  void theFileIsFoundLikeTheServerFindsIt() {
    assertThat(KeysCommand.defaultFile(Map.of("TEMPERA_KEYS_FILE", "/x/k.json")))
        .isEqualTo(Path.of("/x/k.json"));
    assertThat(KeysCommand.defaultFile(Map.of("TEMPERA_OUTPUT_ROOT", "/data/outputs")))
        .isEqualTo(Path.of("/data/keys.json"));
    assertThat(KeysCommand.defaultFile(Map.of())).isEqualTo(Path.of(".tempera/keys.json"));
  }
}
