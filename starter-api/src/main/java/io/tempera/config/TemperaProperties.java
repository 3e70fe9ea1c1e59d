package io.tempera.config;

import java.nio.file.Path;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * Tempera's own settings ({@code tempera.*}).
 *
 * @param outputRoot where projects' files live: {root}/{projectId}/outputs/renders/{nodeId}/
 * @param templatesDir the function templates folder (re-read when it changes)
 * @param templatesRecheckMillis how often, at most, the templates folder is checked for changes
 * @param maxUploadBytes the largest file accepted by the upload endpoint
 * @param searchAttributes start generations with the Tempera* search attributes (they must be
 *     registered on the Temporal server first)
 * @param nodeCatalogue checking ComfyUI templates against the servers' {@code /object_info}
 * @param limits how large an input may be ({@code tempera.limits.*})
 * @param security keys, origins and signed URLs ({@code tempera.security.*})
 * @param encryption payload encryption, so the Temporal server stores no prompt or user file
 *     ({@code tempera.encryption.*})
 */
@ConfigurationProperties("tempera")
public record TemperaProperties(
    Path outputRoot,
    Path templatesDir,
    Long templatesRecheckMillis,
    Long maxUploadBytes,
    Boolean searchAttributes,
    NodeCatalogue nodeCatalogue,
    Limits limits,
    Security security,
    Encryption encryption) {

  /**
   * Payload encryption ({@code tempera.encryption.*}): every payload Temporal stores is encrypted
   * with AES-256-GCM ({@link io.tempera.codec.EncryptionCodec}) by the API and the workers alike.
   *
   * @param enabled encrypt (default false); histories written before still replay
   * @param currentKeyId the id of the key that encrypts
   * @param keys every key that decrypts, by id: 32 random bytes in base64 ({@code
   *     TEMPERA_ENCRYPTION_KEYS_<ID>}; ids in lower case, letters and digits)
   */
  public record Encryption(
      Boolean enabled, String currentKeyId, java.util.Map<String, String> keys) {

    public Encryption {
      enabled = enabled != null && enabled;
      keys = keys == null ? java.util.Map.of() : java.util.Map.copyOf(keys);
    }

    /** Never the keys: their ids only. */
    @Override
    public String toString() {
      return "Encryption[enabled="
          + enabled
          + ", currentKeyId="
          + currentKeyId
          + ", keys="
          + new java.util.TreeSet<>(keys.keySet())
          + "]";
    }
  }

  /**
   * Who may call the API ({@code tempera.security.*}).
   *
   * @param keysFile the API keys file, shared by every API process and the {@code keys} command
   *     line (default: {@code keys.json} next to the output root)
   * @param allowedOrigins the origins of pages, other than this server's own, whose requests and
   *     WebSocket upgrades are taken (default none)
   * @param signedUrlTtl how long, at least, an output or preview URL works without a key (default
   *     24 h)
   * @param developmentKey make a key for project {@code demo} and print it when the keys file has
   *     none (the embedded default: true)
   * @param jwtProjectClaim the JWT claim naming the caller's project (default {@code project})
   * @param jwtRolesClaim the JWT claim listing the caller's roles (default {@code roles})
   * @param jwtOperatorRole the role that makes a JWT's caller an operator (default {@code
   *     tempera-operator})
   */
  public record Security(
      Path keysFile,
      java.util.List<String> allowedOrigins,
      java.time.Duration signedUrlTtl,
      Boolean developmentKey,
      String jwtProjectClaim,
      String jwtRolesClaim,
      String jwtOperatorRole) {

    public Security {
      allowedOrigins =
          allowedOrigins == null
              ? java.util.List.of()
              : allowedOrigins.stream().map(String::trim).filter(o -> !o.isEmpty()).toList();
      signedUrlTtl = signedUrlTtl == null ? java.time.Duration.ofHours(24) : signedUrlTtl;
      developmentKey = developmentKey != null && developmentKey;
      jwtProjectClaim = jwtProjectClaim == null ? "project" : jwtProjectClaim;
      jwtRolesClaim = jwtRolesClaim == null ? "roles" : jwtRolesClaim;
      jwtOperatorRole = jwtOperatorRole == null ? "tempera-operator" : jwtOperatorRole;
    }

    Security withKeysFile(Path file) {
      return new Security(
          file,
          allowedOrigins,
          signedUrlTtl,
          developmentKey,
          jwtProjectClaim,
          jwtRolesClaim,
          jwtOperatorRole);
    }
  }

  /**
   * How large an input may be ({@code tempera.limits.*}).
   *
   * @param maxImagePixels the most pixels (width × height) an uploaded or input image may have,
   *     read from its header before anything decodes it (default 50 000 000)
   * @param maxImageDimension the most pixels either side of such an image may have (default 16384)
   * @param maxJsonBytes the largest JSON request body (default 1 MiB; the generation controller
   *     reads it)
   * @param maxConnectionsPerKey the most SSE streams and canvas WebSockets one project key holds at
   *     once (default 64; operator keys are not counted)
   * @param messagesPerSecond the canvas messages a socket may send a second, on average (default
   *     50, bursts of 100): more are refused with {@code RATE_LIMITED}
   * @param maxPendingReplies the replies a canvas socket may leave unread (default 256): a client
   *     that does not read is disconnected
   * @param readTimeout the longest pause while a request is being read (default 30 s)
   * @param requestTimeout the longest a whole request may take to arrive (default 5 min)
   */
  public record Limits(
      Long maxImagePixels,
      Integer maxImageDimension,
      Long maxJsonBytes,
      Integer maxConnectionsPerKey,
      Integer messagesPerSecond,
      Integer maxPendingReplies,
      java.time.Duration readTimeout,
      java.time.Duration requestTimeout) {

    public Limits {
      maxConnectionsPerKey = maxConnectionsPerKey == null ? 64 : maxConnectionsPerKey;
      messagesPerSecond = messagesPerSecond == null ? 50 : messagesPerSecond;
      maxPendingReplies = maxPendingReplies == null ? 256 : maxPendingReplies;
      readTimeout = readTimeout == null ? java.time.Duration.ofSeconds(30) : readTimeout;
      requestTimeout = requestTimeout == null ? java.time.Duration.ofMinutes(5) : requestTimeout;
      maxJsonBytes = maxJsonBytes == null ? 1024L * 1024 : maxJsonBytes;
      maxImagePixels =
          maxImagePixels == null
              ? io.tempera.outputs.ImageLimits.DEFAULT_MAX_PIXELS
              : maxImagePixels;
      maxImageDimension =
          maxImageDimension == null
              ? io.tempera.outputs.ImageLimits.DEFAULT_MAX_DIMENSION
              : maxImageDimension;
    }

    /** The image limits these settings give. */
    public io.tempera.outputs.ImageLimits imageLimits() {
      return new io.tempera.outputs.ImageLimits(maxImagePixels, maxImageDimension);
    }
  }

  /**
   * Checking ComfyUI templates against the node catalogues of the servers ({@code
   * tempera.node-catalogue.*}).
   *
   * @param enabled check them (default true)
   * @param comfyuiUrls the servers to ask, on a host that runs no worker (the API alone); a worker
   *     host (and the embedded default) asks its own ComfyUI servers
   * @param refresh how often the catalogues are fetched again (default 30 s)
   * @param timeout how long one fetch may take (default 10 s)
   */
  public record NodeCatalogue(
      Boolean enabled,
      java.util.List<java.net.URI> comfyuiUrls,
      java.time.Duration refresh,
      java.time.Duration timeout) {

    public NodeCatalogue {
      enabled = enabled == null || enabled;
      comfyuiUrls =
          comfyuiUrls == null
              ? java.util.List.of()
              : comfyuiUrls.stream().filter(u -> u != null && !u.toString().isBlank()).toList();
      refresh = refresh == null ? java.time.Duration.ofSeconds(30) : refresh;
      timeout = timeout == null ? java.time.Duration.ofSeconds(10) : timeout;
    }
  }

  public TemperaProperties {
    outputRoot = outputRoot == null ? Path.of(".tempera/outputs") : outputRoot;
    templatesDir = templatesDir == null ? Path.of("templates") : templatesDir;
    templatesRecheckMillis = templatesRecheckMillis == null ? 1000L : templatesRecheckMillis;
    maxUploadBytes = maxUploadBytes == null ? 50L * 1024 * 1024 : maxUploadBytes;
    searchAttributes = searchAttributes != null && searchAttributes;
    nodeCatalogue =
        nodeCatalogue == null ? new NodeCatalogue(null, null, null, null) : nodeCatalogue;
    limits = limits == null ? new Limits(null, null, null, null, null, null, null, null) : limits;
    security = security == null ? new Security(null, null, null, null, null, null, null) : security;
    encryption = encryption == null ? new Encryption(null, null, null) : encryption;
    if (security.keysFile() == null || security.keysFile().toString().isEmpty()) {
      Path parent = outputRoot.toAbsolutePath().normalize().getParent();
      security =
          security.withKeysFile((parent == null ? Path.of(".") : parent).resolve("keys.json"));
    }
  }
}
