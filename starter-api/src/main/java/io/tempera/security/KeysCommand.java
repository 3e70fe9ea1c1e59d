package io.tempera.security;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The operator command line for API keys, on the keys file itself (no server needed; a running
 * server sees the change within a second):
 *
 * <pre>
 * keys create --project &lt;projectId&gt; [--name &lt;what for&gt;]   prints the new key alone on stdout
 * keys create --operator [--name &lt;what for&gt;]
 * keys list
 * keys revoke &lt;id&gt;
 * keys webhooks allow &lt;projectId&gt; &lt;host&gt;[,&lt;host&gt;...]   (the first time: prints the signing secret)
 * keys webhooks rotate-secret &lt;projectId&gt;             prints the new signing secret
 * keys webhooks list
 * </pre>
 *
 * {@code --keys-file <file>} names the file; else {@code TEMPERA_KEYS_FILE}, else {@code keys.json}
 * next to {@code TEMPERA_OUTPUT_ROOT}, else {@code .tempera/keys.json}.
 */
public final class KeysCommand {

  private KeysCommand() {}

  /** Whether {@code args} ask for this command rather than a server. */
  public static boolean wanted(String[] args) {
    return args.length > 0 && args[0].equals("keys");
  }

  public static int run(String[] args, Map<String, String> env, PrintStream out, PrintStream err) {
    List<String> rest = new ArrayList<>(List.of(args).subList(1, args.length));
    Path file = null;
    String project = null;
    String name = null;
    boolean operator = false;
    List<String> words = new ArrayList<>();
    for (int i = 0; i < rest.size(); i++) {
      String a = rest.get(i);
      switch (a) {
        case "--keys-file", "--project", "--name" -> {
          if (i + 1 >= rest.size()) {
            err.println(a + " needs a value");
            return usage(err);
          }
          String value = rest.get(++i);
          switch (a) {
            case "--keys-file" -> file = Path.of(value);
            case "--project" -> project = value;
            default -> name = value;
          }
        }
        case "--operator" -> operator = true;
        case "-h", "--help" -> {
          usage(out);
          return 0;
        }
        default -> {
          if (a.startsWith("--")) {
            err.println("unknown option " + a);
            return usage(err);
          }
          words.add(a);
        }
      }
    }
    if (words.isEmpty()) {
      return usage(err);
    }
    ApiKeyStore keys;
    try {
      keys = new ApiKeyStore(file != null ? file : defaultFile(env));
    } catch (RuntimeException e) {
      err.println(e.getMessage());
      return 1;
    }
    switch (words.get(0)) {
      case "create" -> {
        if (operator == (project != null)) {
          err.println("keys create needs --project <projectId> or --operator (one of them)");
          return usage(err);
        }
        if (project != null && !io.tempera.outputs.OutputStore.safeSegment(project)) {
          err.println(
              "a projectId is 1-128 letters, digits, '_', '-' or '.', starting with a letter or"
                  + " digit");
          return 2;
        }
        ApiKeyStore.Issued issued =
            keys.create(operator ? Caller.Role.OPERATOR : Caller.Role.PROJECT, project, name);
        err.println(
            "made key "
                + issued.key().id()
                + (operator ? " (operator)" : " for project " + project)
                + " in "
                + keys.file()
                + "; it is shown this once:");
        out.println(issued.secret());
        return 0;
      }
      case "list" -> {
        out.printf(
            "%-12s  %-8s  %-24s  %-24s  %-20s  %s%n",
            "ID", "ROLE", "PROJECT", "NAME", "CREATED", "REVOKED");
        for (ApiKeyStore.StoredKey k : keys.list()) {
          out.printf(
              "%-12s  %-8s  %-24s  %-24s  %-20s  %s%n",
              k.id(),
              k.role(),
              k.projectId() == null ? "-" : k.projectId(),
              k.name() == null ? "-" : k.name(),
              k.created().length() > 19 ? k.created().substring(0, 19) : k.created(),
              k.revoked() == null ? "-" : k.revoked());
        }
        return 0;
      }
      case "revoke" -> {
        if (words.size() != 2) {
          err.println("keys revoke needs the key's id (keys list shows them)");
          return usage(err);
        }
        if (!keys.revoke(words.get(1))) {
          err.println("there is no key " + words.get(1) + " in " + keys.file());
          return 1;
        }
        err.println("revoked key " + words.get(1));
        return 0;
      }
      case "webhooks" -> {
        return webhooks(keys, words.subList(1, words.size()), out, err);
      }
      default -> {
        err.println("unknown keys command " + words.get(0));
        return usage(err);
      }
    }
  }

  /** {@code keys webhooks ...}: a project's webhook allow-list and signing secret. */
  private static int webhooks(
      ApiKeyStore keys, List<String> words, PrintStream out, PrintStream err) {
    String what = words.isEmpty() ? "" : words.get(0);
    switch (what) {
      case "list" -> {
        out.printf("%-24s  %-20s  %s%n", "PROJECT", "SECRET MADE", "ALLOWED HOSTS");
        keys.webhooks()
            .forEach((project, settings) ->
                out.printf(
                    "%-24s  %-20s  %s%n",
                    project,
                    settings.secretCreated() == null
                        ? "-"
                        : settings
                            .secretCreated()
                            .substring(0, Math.min(19, settings.secretCreated().length())),
                    settings.allowedHosts().isEmpty()
                        ? "(none)"
                        : String.join(",", settings.allowedHosts())));
        return 0;
      }
      case "allow" -> {
        if (words.size() != 3 || !io.tempera.outputs.OutputStore.safeSegment(words.get(1))) {
          err.println(
              "keys webhooks allow needs a projectId and hosts, e.g. keys webhooks allow p1"
                  + " hooks.example.com,*.example.org (an empty string allows none)");
          return usage(err);
        }
        List<String> hosts = new ArrayList<>();
        for (String given : words.get(2).split(",")) {
          if (given.isBlank()) {
            continue;
          }
          String host = io.tempera.api.webhooks.WebhookHosts.normalisePattern(given.strip());
          if (host == null) {
            err.println(
                "'"
                    + given.strip()
                    + "' is not a host: give a name (hooks.example.com), a wildcard for its"
                    + " subdomains (*.example.com) or an IP address");
            return 2;
          }
          hosts.add(host);
        }
        String secret = keys.allowWebhookHosts(words.get(1), hosts);
        err.println(
            "project "
                + words.get(1)
                + " may send webhooks to "
                + (hosts.isEmpty() ? "no host" : String.join(", ", hosts)));
        if (secret != null) {
          err.println("its webhook signing secret is shown this once:");
          out.println(secret);
        }
        return 0;
      }
      case "rotate-secret" -> {
        if (words.size() != 2 || !io.tempera.outputs.OutputStore.safeSegment(words.get(1))) {
          err.println("keys webhooks rotate-secret needs a projectId");
          return usage(err);
        }
        String secret = keys.rotateWebhookSecret(words.get(1));
        err.println(
            "new webhook signing secret for project "
                + words.get(1)
                + " (events are signed with the previous one too for the next "
                + ApiKeyStore.PREVIOUS_SECRET_KEPT.toHours()
                + " h); it is shown this once:");
        out.println(secret);
        return 0;
      }
      default -> {
        err.println("keys webhooks needs allow, rotate-secret or list");
        return usage(err);
      }
    }
  }

  /** Where the keys file is when no --keys-file says. */
  static Path defaultFile(Map<String, String> env) {
    String file = env.get("TEMPERA_KEYS_FILE");
    if (file != null && !file.isBlank()) {
      return Path.of(file);
    }
    String root = env.get("TEMPERA_OUTPUT_ROOT");
    if (root != null && !root.isBlank()) {
      Path parent = Path.of(root).toAbsolutePath().normalize().getParent();
      return (parent == null ? Path.of(".") : parent).resolve("keys.json");
    }
    return Path.of(".tempera/keys.json");
  }

  private static int usage(PrintStream to) {
    to.println(
        """
        usage: keys create --project <projectId> [--name <what for>] [--keys-file <file>]
               keys create --operator [--name <what for>] [--keys-file <file>]
               keys list [--keys-file <file>]
               keys revoke <id> [--keys-file <file>]
               keys webhooks allow <projectId> <host>[,<host>...] [--keys-file <file>]
               keys webhooks rotate-secret <projectId> [--keys-file <file>]
               keys webhooks list [--keys-file <file>]\
        """);
    return 2;
  }
}
