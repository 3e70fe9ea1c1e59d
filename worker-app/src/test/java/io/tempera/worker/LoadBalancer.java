package io.tempera.worker;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Debian's nginx in front of API instances, configured by the deployment's own {@code
 * deploy/compose/nginx.conf} (its one upstream line swapped for the instances' addresses, its
 * listen line for a free local port): the tests meet the same proxy settings a deployment runs
 * with. nginx runs in the foreground as a process of {@link RealProcesses}, so it ends with the
 * test; {@code scripts/ensure-nginx.sh} installs it ({@code ./tempera test} runs it and passes
 * {@code TEMPERA_NGINX}).
 */
final class LoadBalancer {

  static final Path DEPLOYED_CONF = Path.of("..", "deploy", "compose", "nginx.conf");

  private final int port;

  private LoadBalancer(int port) {
    this.port = port;
  }

  /** The port clients use: one address for every instance. */
  int port() {
    return port;
  }

  /** nginx on a free port spreading requests over the API instances on {@code apiPorts}. */
  static LoadBalancer start(RealProcesses processes, Path dir, List<Integer> apiPorts)
      throws IOException {
    int port = RealProcesses.freePort();
    Files.createDirectories(dir);
    for (String temp : List.of("body", "proxy", "fastcgi", "uwsgi", "scgi")) {
      Path tempDir = Files.createDirectories(dir.resolve(temp));
      // nginx's workers run as nobody when the master is root
      Files.setPosixFilePermissions(tempDir, PosixFilePermissions.fromString("rwxrwxrwx"));
    }
    Files.writeString(
        dir.resolve("tempera.conf"), render(Files.readString(DEPLOYED_CONF), port, apiPorts));
    Files.writeString(
        dir.resolve("nginx.conf"),
        String.join(
            "\n",
            "daemon off;",
            // one process: killed with the test's other processes (SIGKILL of a master leaves its
            // workers behind, holding the port)
            "master_process off;",
            "pid " + dir.resolve("nginx.pid") + ";",
            "error_log " + dir.resolve("error.log") + " info;",
            "events { worker_connections 1024; }",
            "http {",
            "  access_log " + dir.resolve("access.log") + ";",
            "  client_body_temp_path " + dir.resolve("body") + ";",
            "  proxy_temp_path " + dir.resolve("proxy") + ";",
            "  fastcgi_temp_path " + dir.resolve("fastcgi") + ";",
            "  uwsgi_temp_path " + dir.resolve("uwsgi") + ";",
            "  scgi_temp_path " + dir.resolve("scgi") + ";",
            "  include " + dir.resolve("tempera.conf") + ";",
            "}",
            ""));
    processes.startProcess(
        "load-balancer",
        List.of(binary(), "-p", dir.toString(), "-c", dir.resolve("nginx.conf").toString()),
        java.util.Map.of());
    RealProcesses.awaitPort(port);
    return new LoadBalancer(port);
  }

  /**
   * The deployed server block, listening on {@code port} of the loopback address, its upstream the
   * given instances (their settings, such as max_fails, kept).
   */
  static String render(String deployed, int port, List<Integer> apiPorts) {
    String upstream =
        deployed.lines().filter(l -> l.trim().startsWith("server api:")).findFirst().orElseThrow();
    String listen =
        deployed.lines().filter(l -> l.trim().startsWith("listen ")).findFirst().orElseThrow();
    String settings = upstream.trim().substring("server api:8080".length());
    String instances =
        apiPorts.stream()
            .map(p -> "  server 127.0.0.1:" + p + settings)
            .collect(Collectors.joining("\n"));
    String rendered =
        deployed.replace(upstream, instances).replace(listen, "  listen 127.0.0.1:" + port + ";");
    assertThat(rendered).as("the deployed nginx.conf, rendered for the test").contains(instances);
    return rendered;
  }

  private static String binary() {
    String configured = System.getenv("TEMPERA_NGINX");
    if (configured != null && !configured.isBlank()) {
      return configured;
    }
    for (String candidate : List.of("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx")) {
      if (Files.isExecutable(Path.of(candidate))) {
        return candidate;
      }
    }
    throw new AssertionError(
        "nginx is not installed: scripts/ensure-nginx.sh installs it (./tempera test runs it)");
  }
}
