package io.tempera.security;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The API keys, in one JSON file that the API processes, the embedded default and the operator
 * command line share. A key is {@code tpk_<id>_<secret>}: the id is public (listed, revoked by),
 * the secret is 32 random bytes; the file keeps only the SHA-256 of the whole key, so reading the
 * file gives no key. The file is re-read when it changes (checked at most once a second), so a key
 * created or revoked by the command line counts on every process within a second. Writes take a
 * file lock and replace the file atomically (owner-only permissions).
 */
public final class ApiKeyStore {

  /** What a key looks like; anything else is not looked up. */
  static final Pattern KEY = Pattern.compile("tpk_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})");

  private static final String BASE62 =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  private static final long RECHECK_NANOS = 1_000_000_000L;
  private static final ObjectMapper JSON =
      new ObjectMapper()
          .setSerializationInclusion(JsonInclude.Include.NON_NULL)
          .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  /**
   * One key as the file keeps it.
   *
   * @param id the public id
   * @param role {@code project} or {@code operator}
   * @param projectId the project of a project key
   * @param name what the key is for, as its creator said
   * @param sha256 the SHA-256 of the whole key, hex
   * @param created when it was made (ISO-8601)
   * @param revoked when it was revoked, or null
   */
  public record StoredKey(
      String id,
      String role,
      String projectId,
      String name,
      String sha256,
      String created,
      String revoked) {

    public Caller.Role roleValue() {
      return "operator".equals(role) ? Caller.Role.OPERATOR : Caller.Role.PROJECT;
    }

    public boolean active() {
      return revoked == null;
    }
  }

  /** A key just made: the only time its secret exists outside the caller's hands. */
  public record Issued(StoredKey key, String secret) {}

  /**
   * A project's webhook settings, as an operator set them.
   *
   * @param allowedHosts the hosts its webhooks may be delivered to: a name ({@code
   *     hooks.example.com}), a wildcard for its subdomains ({@code *.example.com}) or an IP address
   * @param secret the secret its events are signed with ({@code whsec_...}); kept readable here, as
   *     the URL-signing key is, since signing needs it
   * @param secretCreated when it was made (ISO-8601)
   * @param previousSecret the secret before the last rotation, still signed with until {@code
   *     previousUntil}, so receivers can switch without missing an event
   * @param previousUntil when the previous secret stops being used (ISO-8601)
   */
  public record ProjectWebhooks(
      List<String> allowedHosts,
      String secret,
      String secretCreated,
      String previousSecret,
      String previousUntil) {
    public ProjectWebhooks {
      allowedHosts = allowedHosts == null ? List.of() : List.copyOf(allowedHosts);
    }

    /** The secrets events are signed with at {@code now}: the current one, then the previous. */
    public List<String> signingSecrets(Instant now) {
      List<String> secrets = new ArrayList<>();
      if (secret != null) {
        secrets.add(secret);
      }
      if (previousSecret != null
          && previousUntil != null
          && now.isBefore(Instant.parse(previousUntil))) {
        secrets.add(previousSecret);
      }
      return List.copyOf(secrets);
    }
  }

  /** The file's contents. */
  record Contents(
      Integer version,
      String urlSigningKey,
      List<StoredKey> keys,
      Map<String, ProjectWebhooks> webhooks) {
    Contents {
      version = version == null ? 1 : version;
      keys = keys == null ? List.of() : List.copyOf(keys);
      webhooks = webhooks == null ? Map.of() : Map.copyOf(webhooks);
    }

    Contents(Integer version, String urlSigningKey, List<StoredKey> keys) {
      this(version, urlSigningKey, keys, null);
    }
  }

  private record Loaded(Contents contents, Map<String, StoredKey> byId, Object stamp) {}

  private final Path file;
  private final SecureRandom random = new SecureRandom();
  private volatile Loaded loaded;
  private volatile long checkedAt;

  public ApiKeyStore(Path file) {
    this.file = file.toAbsolutePath().normalize();
    this.loaded = read();
    this.checkedAt = System.nanoTime();
  }

  public Path file() {
    return file;
  }

  /** The caller a presented key stands for: empty for anything that is not an active key. */
  public Optional<Caller> authenticate(String presented) {
    if (presented == null || presented.length() > 80) {
      return Optional.empty();
    }
    var m = KEY.matcher(presented);
    if (!m.matches()) {
      return Optional.empty();
    }
    StoredKey key = current().byId().get(m.group(1));
    if (key == null) {
      // a key made a moment ago (by the command line or another process) counts at once
      key = reread().byId().get(m.group(1));
    }
    if (key == null || !key.active()) {
      // hash anyway, so that an unknown id costs what a known one does
      sha256(presented);
      return Optional.empty();
    }
    boolean same =
        MessageDigest.isEqual(
            sha256(presented).getBytes(StandardCharsets.US_ASCII),
            key.sha256().getBytes(StandardCharsets.US_ASCII));
    return same
        ? Optional.of(new Caller(key.id(), key.roleValue(), key.projectId()))
        : Optional.empty();
  }

  /** Every key, revoked ones included, without secrets. */
  public List<StoredKey> list() {
    return current().contents().keys();
  }

  public Optional<StoredKey> find(String id) {
    return Optional.ofNullable(current().byId().get(id));
  }

  /** Whether no active key exists (the embedded default then makes a development key). */
  public boolean noActiveKey() {
    return current().contents().keys().stream().noneMatch(StoredKey::active);
  }

  /** Makes a key; its secret is returned once and never stored. */
  public Issued create(Caller.Role role, String projectId, String name) {
    if (role == Caller.Role.PROJECT && (projectId == null || projectId.isBlank())) {
      throw new IllegalArgumentException("a project key needs a project");
    }
    String id = randomBase62(12);
    byte[] secretBytes = new byte[32];
    random.nextBytes(secretBytes);
    String secret =
        "tpk_" + id + "_" + Base64.getUrlEncoder().withoutPadding().encodeToString(secretBytes);
    StoredKey key =
        new StoredKey(
            id,
            role.wire(),
            role == Caller.Role.PROJECT ? projectId : null,
            name == null || name.isBlank() ? null : name,
            sha256(secret),
            Instant.now().toString(),
            null);
    update(contents -> {
      List<StoredKey> keys = new ArrayList<>(contents.keys());
      keys.add(key);
      return new Contents(contents.version(), contents.urlSigningKey(), keys, contents.webhooks());
    });
    return new Issued(key, secret);
  }

  /** Revokes a key by its id; false when there is no such key. Revoking twice is harmless. */
  public boolean revoke(String id) {
    boolean[] found = {false};
    update(contents -> {
      List<StoredKey> keys = new ArrayList<>();
      for (StoredKey k : contents.keys()) {
        if (k.id().equals(id)) {
          found[0] = true;
          keys.add(
              k.active()
                  ? new StoredKey(
                      k.id(),
                      k.role(),
                      k.projectId(),
                      k.name(),
                      k.sha256(),
                      k.created(),
                      Instant.now().toString())
                  : k);
        } else {
          keys.add(k);
        }
      }
      return new Contents(contents.version(), contents.urlSigningKey(), keys, contents.webhooks());
    });
    return found[0];
  }

  /**
   * The secret that signs output and preview URLs, shared through the file by every process that
   * reads it; made at first use.
   */
  public byte[] urlSigningKey() {
    String stored = current().contents().urlSigningKey();
    if (stored == null) {
      update(contents -> {
        if (contents.urlSigningKey() != null) {
          return contents;
        }
        byte[] key = new byte[32];
        random.nextBytes(key);
        return new Contents(
            contents.version(),
            Base64.getEncoder().encodeToString(key),
            contents.keys(),
            contents.webhooks());
      });
      stored = current().contents().urlSigningKey();
    }
    return Base64.getDecoder().decode(stored);
  }

  /** How long a rotated webhook secret is still signed with. */
  public static final java.time.Duration PREVIOUS_SECRET_KEPT = java.time.Duration.ofHours(24);

  /** A project's webhook settings, if an operator made any. */
  public Optional<ProjectWebhooks> webhooks(String projectId) {
    return Optional.ofNullable(current().contents().webhooks().get(projectId));
  }

  /** Every project's webhook settings, by project. */
  public Map<String, ProjectWebhooks> webhooks() {
    return current().contents().webhooks();
  }

  /**
   * Sets the hosts {@code projectId}'s webhooks may go to (an empty list allows none); makes the
   * project's signing secret if it has none yet, and returns it then (the only time it is shown),
   * else null.
   */
  public String allowWebhookHosts(String projectId, List<String> hosts) {
    String[] made = {null};
    update(contents -> {
      ProjectWebhooks was = contents.webhooks().get(projectId);
      String secret = was == null ? null : was.secret();
      String created = was == null ? null : was.secretCreated();
      if (secret == null) {
        secret = newWebhookSecret();
        created = Instant.now().toString();
        made[0] = secret;
      }
      return withWebhooks(
          contents,
          projectId,
          new ProjectWebhooks(
              hosts,
              secret,
              created,
              was == null ? null : was.previousSecret(),
              was == null ? null : was.previousUntil()));
    });
    return made[0];
  }

  /**
   * Makes a new webhook signing secret for {@code projectId} and returns it (the only time it is
   * shown); the previous one is still signed with for {@link #PREVIOUS_SECRET_KEPT}.
   */
  public String rotateWebhookSecret(String projectId) {
    String secret = newWebhookSecret();
    Instant now = Instant.now();
    update(contents -> {
      ProjectWebhooks was = contents.webhooks().get(projectId);
      return withWebhooks(
          contents,
          projectId,
          new ProjectWebhooks(
              was == null ? List.of() : was.allowedHosts(),
              secret,
              now.toString(),
              was == null ? null : was.secret(),
              was == null || was.secret() == null
                  ? null
                  : now.plus(PREVIOUS_SECRET_KEPT).toString()));
    });
    return secret;
  }

  private static Contents withWebhooks(
      Contents contents, String projectId, ProjectWebhooks settings) {
    Map<String, ProjectWebhooks> all = new java.util.TreeMap<>(contents.webhooks());
    all.put(projectId, settings);
    return new Contents(contents.version(), contents.urlSigningKey(), contents.keys(), all);
  }

  private String newWebhookSecret() {
    byte[] bytes = new byte[32];
    random.nextBytes(bytes);
    return "whsec_" + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
  }

  /** The file as it is now, read again only if it changed. */
  private Loaded reread() {
    checkedAt = System.nanoTime();
    Object stamp = stamp();
    if (!stamp.equals(loaded.stamp())) {
      loaded = read();
    }
    return loaded;
  }

  private Loaded current() {
    long now = System.nanoTime();
    if (now - checkedAt > RECHECK_NANOS) {
      checkedAt = now;
      Object stamp = stamp();
      if (!stamp.equals(loaded.stamp())) {
        loaded = read();
      }
    }
    return loaded;
  }

  private Object stamp() {
    try {
      BasicFileAttributes a =
          Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
      return List.of(a.lastModifiedTime().toMillis(), a.size(), String.valueOf(a.fileKey()));
    } catch (IOException e) {
      return List.of();
    }
  }

  private Loaded read() {
    Object stamp = stamp();
    if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
      return new Loaded(new Contents(1, null, List.of()), Map.of(), stamp);
    }
    if (Files.isSymbolicLink(file)) {
      throw new IllegalStateException("The keys file " + file + " is a symbolic link; refused");
    }
    try {
      Contents contents = JSON.readValue(Files.readAllBytes(file), Contents.class);
      Map<String, StoredKey> byId = new LinkedHashMap<>();
      for (StoredKey k : contents.keys()) {
        byId.put(k.id(), k);
      }
      return new Loaded(contents, Map.copyOf(byId), stamp);
    } catch (IOException e) {
      throw new IllegalStateException(
          "The keys file " + file + " cannot be read: " + e.getMessage(), e);
    }
  }

  private synchronized void update(java.util.function.UnaryOperator<Contents> change) {
    try {
      Files.createDirectories(file.getParent());
      Path lockFile = file.resolveSibling(file.getFileName() + ".lock");
      try (FileChannel channel =
              FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
          FileLock ignored = channel.lock()) {
        Loaded fresh = read();
        Contents next = change.apply(fresh.contents());
        if (next != fresh.contents()) {
          write(next);
        }
        loaded = read();
        checkedAt = System.nanoTime();
      }
    } catch (IOException e) {
      throw new UncheckedIOException("The keys file " + file + " cannot be written", e);
    }
  }

  private void write(Contents contents) throws IOException {
    Path temp = Files.createTempFile(file.getParent(), ".keys-", ".json");
    try {
      try {
        Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rw-------"));
      } catch (UnsupportedOperationException e) {
        // not a POSIX file system: its own defaults
      }
      Files.write(temp, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(contents));
      try {
        Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(temp, file, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(temp);
    }
  }

  private String randomBase62(int length) {
    StringBuilder s = new StringBuilder(length);
    for (int i = 0; i < length; i++) {
      s.append(BASE62.charAt(random.nextInt(BASE62.length())));
    }
    return s.toString();
  }

  static String sha256(String text) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }
}
