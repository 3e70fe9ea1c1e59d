package io.tempera.ops;

import io.tempera.codec.EncryptionCodec;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowClientOptions;
import io.temporal.common.converter.DataConverter;
import io.temporal.serviceclient.SimpleSslContextBuilder;
import io.temporal.serviceclient.WorkflowServiceStubs;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The operator command line: generations and the slot pool, straight on Temporal (no API needed, so
 * it works while the API is down).
 *
 * <pre>
 * ops list [--status S] [--project P] [--tier T] [--function F] [--host H] [--limit N]
 * ops show &lt;generationId&gt;
 * ops cancel &lt;generationId&gt; [--reason R]
 * ops retry &lt;generationId&gt;
 * ops drain &lt;hostId&gt; [--reason R]      ops undrain &lt;hostId&gt;
 * ops leases                            ops free &lt;leaseId&gt; [--reason R]
 * </pre>
 *
 * The server is {@code --address}, else {@code SPRING_TEMPORAL_CONNECTION_TARGET} or {@code
 * TEMPORAL_ADDRESS} (as the apps read them), else {@code 127.0.0.1:7233}, with the apps' mTLS or
 * API key settings ({@link #serviceOptions}); the namespace {@code --namespace}, else {@code
 * SPRING_TEMPORAL_NAMESPACE} or {@code TEMPORAL_NAMESPACE}, else {@code default}; the slot pool
 * {@code --pool}, else {@code TEMPERA_SLOT_POOL}, else {@code default}. With {@code
 * TEMPERA_ENCRYPTION_ENABLED=true} payloads are read and written with the same keys as the apps
 * ({@code TEMPERA_ENCRYPTION_CURRENT_KEY_ID}, {@code TEMPERA_ENCRYPTION_KEYS_<ID>}). Exit codes: 0
 * done, 1 not found or refused (the reason on stderr), 2 a usage error.
 */
public final class OpsCommand {

  static final int OK = 0;
  static final int FAILED = 1;
  static final int USAGE = 2;

  /** How long to wait for the Temporal server to answer at all. */
  static final Duration CONNECT_WITHIN = Duration.ofSeconds(5);

  /** The options each command takes (besides --address and --namespace), and its words. */
  private static final Map<String, Set<String>> OPTIONS =
      Map.of(
          "list",
              Set.of(
                  "--status", "--project", "--tier", "--function", "--host", "--pool", "--limit"),
          "show", Set.of(),
          "cancel", Set.of("--reason"),
          "retry", Set.of(),
          "drain", Set.of("--pool", "--reason"),
          "undrain", Set.of("--pool", "--reason"),
          "leases", Set.of("--pool"),
          "usage", Set.of("--pool", "--project"),
          "free", Set.of("--pool", "--reason"));

  private static final Map<String, Integer> WORDS =
      Map.of(
          "list", 0, "show", 1, "cancel", 1, "retry", 1, "drain", 1, "undrain", 1, "leases", 0,
          "usage", 0, "free", 1);

  private OpsCommand() {}

  /** Whether {@code args} ask for this command rather than a server. */
  public static boolean wanted(String[] args) {
    return args.length > 0 && args[0].equals("ops");
  }

  /** A parsed command line: the command, its words and its options. */
  record Invocation(String command, List<String> words, Map<String, String> options) {

    String option(String name) {
      return options.get(name);
    }

    String word() {
      return words.get(0);
    }
  }

  /** Connects to Temporal as the apps do and runs {@code args} ({@code ops …}); the exit code. */
  public static int run(String[] args, Map<String, String> env, PrintStream out, PrintStream err) {
    Invocation invocation;
    try {
      invocation = parse(List.of(args).subList(Math.min(1, args.length), args.length));
    } catch (UsageException e) {
      return usage(e.getMessage(), err);
    }
    if (invocation == null) {
      usage(null, out);
      return OK;
    }
    String address =
        first(
            invocation.option("--address"),
            env.get("SPRING_TEMPORAL_CONNECTION_TARGET"),
            env.get("TEMPORAL_ADDRESS"),
            "127.0.0.1:7233");
    String namespace =
        first(
            invocation.option("--namespace"),
            env.get("SPRING_TEMPORAL_NAMESPACE"),
            env.get("TEMPORAL_NAMESPACE"),
            "default");
    DataConverter converter;
    WorkflowServiceStubsOptions options;
    try {
      converter = dataConverter(env);
      options = serviceOptions(address, env);
    } catch (IllegalArgumentException e) {
      err.println(e.getMessage());
      return FAILED;
    }
    Runnable logsBack = quietLogs();
    try {
      return run(invocation, options, namespace, converter, address, env, out, err);
    } finally {
      logsBack.run(); // as they were: a process that runs ops in passing (a test) keeps its logs
    }
  }

  private static int run(
      Invocation invocation,
      WorkflowServiceStubsOptions options,
      String namespace,
      DataConverter converter,
      String address,
      Map<String, String> env,
      PrintStream out,
      PrintStream err) {
    WorkflowServiceStubs service;
    try {
      service = WorkflowServiceStubs.newConnectedServiceStubs(options, CONNECT_WITHIN);
    } catch (RuntimeException e) {
      err.println(
          "Temporal does not answer at "
              + address
              + " within "
              + CONNECT_WITHIN.toSeconds()
              + " s (set TEMPORAL_ADDRESS or --address)");
      return FAILED;
    }
    try {
      WorkflowClient client =
          WorkflowClient.newInstance(
              service,
              WorkflowClientOptions.newBuilder()
                  .setNamespace(namespace)
                  .setDataConverter(converter)
                  .build());
      return new Operations(client, env, out, err, address).run(invocation);
    } finally {
      service.shutdownNow();
    }
  }

  /** Runs {@code args} (the words after {@code ops}) against {@code client}; the exit code. */
  static int run(
      List<String> args,
      WorkflowClient client,
      Map<String, String> env,
      PrintStream out,
      PrintStream err) {
    Invocation invocation;
    try {
      invocation = parse(args);
    } catch (UsageException e) {
      return usage(e.getMessage(), err);
    }
    if (invocation == null) {
      usage(null, out);
      return OK;
    }
    return new Operations(client, env, out, err, "the test server").run(invocation);
  }

  /** The invocation {@code args} ask for; null for help. */
  static Invocation parse(List<String> args) {
    if (args.isEmpty()) {
      throw new UsageException("ops needs a command");
    }
    String command = args.get(0);
    if (command.equals("-h") || command.equals("--help") || command.equals("help")) {
      return null;
    }
    if (!OPTIONS.containsKey(command)) {
      throw new UsageException("unknown ops command '" + command + "'");
    }
    Map<String, String> options = new LinkedHashMap<>();
    List<String> words = new ArrayList<>();
    for (int i = 1; i < args.size(); i++) {
      String a = args.get(i);
      if (a.equals("-h") || a.equals("--help")) {
        return null;
      }
      if (a.startsWith("--")) {
        String name = a;
        String value = null;
        int equals = a.indexOf('=');
        if (equals > 0) {
          name = a.substring(0, equals);
          value = a.substring(equals + 1);
        }
        if (!OPTIONS.get(command).contains(name)
            && !name.equals("--address")
            && !name.equals("--namespace")) {
          throw new UsageException("ops " + command + " has no option " + name);
        }
        if (value == null) {
          if (i + 1 >= args.size()) {
            throw new UsageException(name + " needs a value");
          }
          value = args.get(++i);
        }
        if (value.isBlank()) {
          throw new UsageException(name + " needs a value");
        }
        if (options.put(name, value) != null) {
          throw new UsageException(name + " is given twice");
        }
      } else {
        words.add(a);
      }
    }
    int wanted = WORDS.get(command);
    if (words.size() != wanted) {
      throw new UsageException(
          wanted == 0
              ? "ops " + command + " takes no argument, got " + String.join(" ", words)
              : "ops " + command + " needs " + what(command) + (words.isEmpty() ? "" : " (one)"));
    }
    return new Invocation(command, List.copyOf(words), Map.copyOf(options));
  }

  private static String what(String command) {
    return switch (command) {
      case "drain", "undrain" -> "a host id (ops leases lists the hosts)";
      case "free" -> "a lease id (ops leases lists them)";
      default -> "a generation id (gen-…; ops list lists them)";
    };
  }

  /**
   * How to reach the server, as the apps' Temporal Spring Boot starter does from the same
   * variables: mTLS with {@code SPRING_TEMPORAL_CONNECTION_MTLS_CERTCHAINFILE} and {@code _KEYFILE}
   * (PEM, PKCS#8 key), an API key with {@code SPRING_TEMPORAL_CONNECTION_APIKEY}, TLS with {@code
   * SPRING_TEMPORAL_CONNECTION_ENABLEHTTPS=true} (Temporal Cloud).
   */
  static WorkflowServiceStubsOptions serviceOptions(String address, Map<String, String> env) {
    WorkflowServiceStubsOptions.Builder options =
        WorkflowServiceStubsOptions.newBuilder()
            .setTarget(address)
            .setRpcTimeout(Duration.ofSeconds(20));
    String cert = first(env.get("SPRING_TEMPORAL_CONNECTION_MTLS_CERTCHAINFILE"));
    String key = first(env.get("SPRING_TEMPORAL_CONNECTION_MTLS_KEYFILE"));
    if ((cert == null) != (key == null)) {
      throw new IllegalArgumentException(
          "mTLS needs both SPRING_TEMPORAL_CONNECTION_MTLS_CERTCHAINFILE and"
              + " SPRING_TEMPORAL_CONNECTION_MTLS_KEYFILE");
    }
    if (cert != null) {
      try (InputStream chain = Files.newInputStream(Path.of(cert));
          InputStream privateKey = Files.newInputStream(Path.of(key))) {
        options.setSslContext(SimpleSslContextBuilder.forPKCS8(chain, privateKey).build());
      } catch (IOException | RuntimeException e) {
        throw new IllegalArgumentException(
            "the mTLS certificate chain "
                + cert
                + " and key "
                + key
                + " cannot be used: "
                + (e instanceof java.nio.file.NoSuchFileException ? "no such file " : "")
                + e.getMessage(),
            e);
      }
    }
    String apiKey = first(env.get("SPRING_TEMPORAL_CONNECTION_APIKEY"));
    if (apiKey != null) {
      options.addApiKey(() -> apiKey);
    }
    if ("true".equalsIgnoreCase(first(env.get("SPRING_TEMPORAL_CONNECTION_ENABLEHTTPS")))) {
      options.setEnableHttps(true);
    }
    return options.build();
  }

  /**
   * The apps' data converter ({@link io.tempera.codec.TemperaDataConverter}), every payload
   * encrypted when {@code TEMPERA_ENCRYPTION_ENABLED} is true (the keys from {@code
   * TEMPERA_ENCRYPTION_KEYS_<ID>}).
   */
  static DataConverter dataConverter(Map<String, String> env) {
    if (!"true".equalsIgnoreCase(env.getOrDefault("TEMPERA_ENCRYPTION_ENABLED", "").strip())) {
      return io.tempera.codec.TemperaDataConverter.standard();
    }
    Map<String, String> keys = new TreeMap<>();
    String prefix = "TEMPERA_ENCRYPTION_KEYS_";
    env.forEach((name, value) -> {
      if (name.startsWith(prefix) && name.length() > prefix.length()) {
        keys.put(name.substring(prefix.length()).toLowerCase(Locale.ROOT), value);
      }
    });
    try {
      return EncryptionCodec.ofBase64(env.get("TEMPERA_ENCRYPTION_CURRENT_KEY_ID"), keys)
          .dataConverter();
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "TEMPERA_ENCRYPTION_ENABLED is true but its keys are not usable: " + e.getMessage(), e);
    }
  }

  /**
   * The command prints what it has to say itself: the SDK's and gRPC's log lines (INFO on stdout by
   * default) would mix with its tables.
   */
  private static Runnable quietLogs() {
    if (org.slf4j.LoggerFactory.getILoggerFactory()
        instanceof ch.qos.logback.classic.LoggerContext logs) {
      ch.qos.logback.classic.Logger root = logs.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
      ch.qos.logback.classic.Level before = root.getLevel();
      root.setLevel(ch.qos.logback.classic.Level.OFF);
      return () -> root.setLevel(before);
    }
    return () -> {};
  }

  private static String first(String... values) {
    for (String value : values) {
      if (value != null && !value.isBlank()) {
        return value.strip();
      }
    }
    return null;
  }

  /** A command line that cannot run as given. */
  static final class UsageException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    UsageException(String message) {
      super(message, null, false, false);
    }
  }

  private static int usage(String problem, PrintStream to) {
    if (problem != null) {
      to.println(problem);
    }
    to.println(
        """
        usage: ops list [--status queued|running|succeeded|failed|cancelled|open] [--project P]
                        [--tier draft|standard|high|ultra] [--function F] [--host H] [--limit N]
               ops show <generationId>        its phases, attempts, hosts, error and outputs
               ops cancel <generationId> [--reason R]
               ops retry <generationId>       the same request again, under a new id
               ops drain <hostId> [--reason R]    no new lease goes to the host
               ops undrain <hostId>               the host takes leases again
               ops leases                     the pool's hosts, leases and waiters
               ops usage [--project P,Q]      per project: running, queued, GPU-seconds this hour
               ops free <leaseId> [--reason R]    give a stuck lease back to the pool
        every command: [--address host:port] [--namespace N] (else TEMPORAL_ADDRESS,
        TEMPORAL_NAMESPACE); pool commands and --host: [--pool P] (else TEMPERA_SLOT_POOL,
        else default)\
        """);
    return problem == null ? OK : USAGE;
  }
}
