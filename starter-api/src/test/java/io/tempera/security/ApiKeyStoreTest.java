package io.tempera.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ApiKeyStoreTest {

  @TempDir Path dir;

  @Test
  void aKeyAuthenticatesAsItsProjectAndTheFileKeepsOnlyItsHash() throws Exception {
    ApiKeyStore store = new ApiKeyStore(dir.resolve("keys.json"));
    ApiKeyStore.Issued issued = store.create(Caller.Role.PROJECT, "alpha", "canvas");
    assertThat(issued.secret()).matches(ApiKeyStore.KEY.pattern());
    assertThat(store.authenticate(issued.secret()))
        .contains(new Caller(issued.key().id(), Caller.Role.PROJECT, "alpha"));
    String file = Files.readString(dir.resolve("keys.json"));
    assertThat(file).contains(issued.key().id()).doesNotContain(issued.secret().substring(17));
    assertThat(Files.getPosixFilePermissions(dir.resolve("keys.json")))
        .isEqualTo(PosixFilePermissions.fromString("rw-------"));
  }

  @Test
  void wrongMalformedAndRevokedKeysAreRefused() {
    ApiKeyStore store = new ApiKeyStore(dir.resolve("keys.json"));
    String key = store.create(Caller.Role.OPERATOR, null, null).secret();
    String id = key.substring(4, 16);
    String wrongSecret = key.substring(0, key.length() - 1) + (key.endsWith("A") ? "B" : "A");
    assertThat(store.authenticate(wrongSecret)).isEmpty();
    assertThat(store.authenticate("tpk_" + "A".repeat(12) + "_" + "A".repeat(43))).isEmpty();
    assertThat(store.authenticate(null)).isEmpty();
    assertThat(store.authenticate("")).isEmpty();
    assertThat(store.authenticate(key + "x")).isEmpty();
    assertThat(store.authenticate(key.toUpperCase())).isEmpty();
    assertThat(store.authenticate(key)).map(Caller::operator).contains(true);
    assertThat(store.revoke(id)).isTrue();
    assertThat(store.authenticate(key)).isEmpty();
    assertThat(store.revoke("nope")).isFalse();
    assertThat(store.list()).singleElement().satisfies(k -> assertThat(k.revoked()).isNotNull());
  }

  @Test
  void anotherStoreOnTheSameFileSeesNewKeysAtOnceAndRevocationsWithinASecond() throws Exception {
    ApiKeyStore server = new ApiKeyStore(dir.resolve("keys.json"));
    ApiKeyStore commandLine = new ApiKeyStore(dir.resolve("keys.json"));
    String key = commandLine.create(Caller.Role.PROJECT, "alpha", null).secret();
    assertThat(server.authenticate(key)).isPresent();
    commandLine.revoke(key.substring(4, 16));
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> server.authenticate(key).isEmpty());
  }

  @Test
  void aSymbolicLinkForTheFileIsRefused() throws Exception {
    Path real = dir.resolve("elsewhere.json");
    new ApiKeyStore(real).create(Caller.Role.PROJECT, "a", null);
    Path link = Files.createSymbolicLink(dir.resolve("keys.json"), real);
    assertThatThrownBy(() -> new ApiKeyStore(link)).hasMessageContaining("symbolic link");
  }

  @Test
  void theUrlSigningSecretIsMadeOnceAndShared() {
    ApiKeyStore a = new ApiKeyStore(dir.resolve("keys.json"));
    byte[] secret = a.urlSigningKey();
    assertThat(secret).hasSize(32);
    assertThat(new ApiKeyStore(dir.resolve("keys.json")).urlSigningKey()).isEqualTo(secret);
  }

  @Test
  void signedUrlsGrantTheirPathUntilTheyExpire() {
    Instant now = Instant.parse("2026-12-07T10:15:00Z");
    Clock clock = Clock.fixed(now, ZoneOffset.UTC);
    SignedUrls urls = new SignedUrls(() -> new byte[32], Duration.ofHours(24), clock);
    String signed = urls.sign("/api/generations/gen-a/outputs/out");
    assertThat(signed).isEqualTo(urls.sign("/api/generations/gen-a/outputs/out"));
    String expires = signed.replaceAll(".*expires=(\\d+).*", "$1");
    String signature = signed.replaceAll(".*signature=", "");
    assertThat(Long.parseLong(expires)).isGreaterThanOrEqualTo(now.getEpochSecond() + 24 * 3600);
    assertThat(urls.grants("/api/generations/gen-a/outputs/out", expires, signature)).isTrue();
    assertThat(urls.grants("/api/generations/gen-a/outputs/other", expires, signature)).isFalse();
    assertThat(urls.grants("/api/generations/gen-a/outputs/out", expires + "0", signature))
        .isFalse();
    assertThat(urls.grants("/api/generations/gen-a/outputs/out", "x", signature)).isFalse();
    assertThat(urls.grants("/api/generations/gen-a/outputs/out", expires, null)).isFalse();
    SignedUrls later =
        new SignedUrls(
            () -> new byte[32],
            Duration.ofHours(24),
            Clock.fixed(now.plus(Duration.ofDays(2)), ZoneOffset.UTC));
    assertThat(later.grants("/api/generations/gen-a/outputs/out", expires, signature)).isFalse();
    SignedUrls otherSecret = new SignedUrls(() -> new byte[] {1}, Duration.ofHours(24), clock);
    assertThat(otherSecret.grants("/api/generations/gen-a/outputs/out", expires, signature))
        .isFalse();
  }
}
