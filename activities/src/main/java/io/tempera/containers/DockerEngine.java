package io.tempera.containers;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.async.ResultCallback;
import com.github.dockerjava.api.command.CreateContainerCmd;
import com.github.dockerjava.api.command.InspectContainerResponse;
import com.github.dockerjava.api.exception.DockerException;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.exception.NotModifiedException;
import com.github.dockerjava.api.model.Container;
import com.github.dockerjava.api.model.DeviceRequest;
import com.github.dockerjava.api.model.ExposedPort;
import com.github.dockerjava.api.model.Frame;
import com.github.dockerjava.api.model.HostConfig;
import com.github.dockerjava.api.model.Ports;
import com.github.dockerjava.core.DefaultDockerClientConfig;
import com.github.dockerjava.core.DockerClientConfig;
import com.github.dockerjava.core.DockerClientImpl;
import com.github.dockerjava.httpclient5.ApacheDockerHttpClient;
import io.tempera.generation.ErrorCode;
import io.tempera.models.ModelSpec;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Docker engine calls of a model host, through docker-java: create, start, inspect, logs, stop
 * and remove containers. Nothing is pulled; ports are published on the options' bind address.
 */
final class DockerEngine {

  /** The host's parts log as the host. */
  private static final Logger log = LoggerFactory.getLogger(DockerModelHost.class);

  private final DockerClient docker;
  private final DockerModelHostOptions options;

  DockerEngine(DockerClient docker, DockerModelHostOptions options) {
    this.docker = docker;
    this.options = options;
  }

  /**
   * A Docker client for {@code dockerHost} (e.g. {@code unix:///var/run/docker.sock}; null:
   * DOCKER_HOST or the default).
   */
  static DockerClient connect(String dockerHost) {
    DefaultDockerClientConfig.Builder builder =
        DefaultDockerClientConfig.createDefaultConfigBuilder();
    if (dockerHost != null && !dockerHost.isBlank()) {
      builder.withDockerHost(dockerHost);
    }
    DockerClientConfig config = builder.build();
    ApacheDockerHttpClient client =
        new ApacheDockerHttpClient.Builder()
            .dockerHost(config.getDockerHost())
            .sslConfig(config.getSSLConfig())
            .maxConnections(50)
            .connectionTimeout(Duration.ofSeconds(5))
            .responseTimeout(Duration.ofMinutes(2))
            .build();
    return DockerClientImpl.getInstance(config, client);
  }

  /** The engine answers. */
  boolean available() {
    try {
      docker.pingCmd().exec();
      return true;
    } catch (RuntimeException e) {
      return false;
    }
  }

  /** Fails with MODEL_UNAVAILABLE when the model's image is not on this host. */
  void requireImage(ModelSpec model) {
    try {
      docker.inspectImageCmd(model.image()).exec();
    } catch (NotFoundException e) {
      throw new ModelHostException(
          ErrorCode.MODEL_UNAVAILABLE,
          "Image '"
              + model.image()
              + "' of model '"
              + model.id()
              + "' is not on this host (build or load it; nothing is pulled)",
          "",
          e);
    }
  }

  /** Creates the container; returns its id. */
  String create(ContainerRequest request) {
    ExposedPort port = ExposedPort.tcp(request.port());
    Ports bindings = new Ports();
    bindings.bind(port, Ports.Binding.bindIp(options.bindAddress()));
    HostConfig hostConfig = HostConfig.newHostConfig().withPortBindings(bindings);
    if (request.gpu() != null) {
      hostConfig.withDeviceRequests(
          List.of(
              new DeviceRequest()
                  .withDriver("nvidia")
                  .withDeviceIds(List.of(String.valueOf(request.gpu())))
                  .withCapabilities(List.of(List.of("gpu")))));
    }
    CreateContainerCmd cmd =
        docker
            .createContainerCmd(request.image())
            .withName(request.name())
            .withLabels(request.labels())
            .withEnv(request.env())
            .withExposedPorts(port)
            .withHostConfig(hostConfig);
    if (!request.command().isEmpty()) {
      cmd.withCmd(request.command());
    }
    return cmd.exec().getId();
  }

  void start(String containerId) {
    docker.startContainerCmd(containerId).exec();
  }

  InspectContainerResponse inspect(String containerId) {
    return docker.inspectContainerCmd(containerId).exec();
  }

  /** Every container, running or not, labelled with this host id. */
  List<Container> containersOf(String hostId) {
    return docker
        .listContainersCmd()
        .withShowAll(true)
        .withLabelFilter(Map.of(ContainerLabels.HOST, hostId))
        .exec();
  }

  /** Where the container's {@code port} is published on this host. */
  URI publishedUrl(String containerId, int port) {
    InspectContainerResponse inspect = docker.inspectContainerCmd(containerId).exec();
    Ports.Binding[] bound =
        inspect.getNetworkSettings().getPorts().getBindings().get(ExposedPort.tcp(port));
    if (bound == null || bound.length == 0) {
      throw new ModelHostException(
          ErrorCode.MODEL_UNAVAILABLE,
          "Container " + containerId + " published no port for " + port,
          logTail(containerId),
          null);
    }
    String ip =
        bound[0].getHostIp() == null
                || bound[0].getHostIp().isBlank()
                || bound[0].getHostIp().equals("0.0.0.0")
            ? "127.0.0.1"
            : bound[0].getHostIp();
    return URI.create("http://" + ip + ":" + bound[0].getHostPortSpec());
  }

  /** The container's state; empty when it is gone. */
  Optional<InspectContainerResponse.ContainerState> state(String containerId) {
    try {
      return Optional.ofNullable(docker.inspectContainerCmd(containerId).exec().getState());
    } catch (NotFoundException e) {
      return Optional.empty();
    }
  }

  static boolean running(Optional<InspectContainerResponse.ContainerState> state) {
    return state.isPresent() && Boolean.TRUE.equals(state.get().getRunning());
  }

  /** How a container ended, for messages: " (exit code 137)", " (it is gone)", … */
  static String exitText(InspectContainerResponse.ContainerState state) {
    if (state == null) {
      return " (it is gone)";
    }
    if (Boolean.TRUE.equals(state.getRunning())) {
      return " (it stopped answering its health check)";
    }
    return " (exit code "
        + state.getExitCodeLong()
        + (Boolean.TRUE.equals(state.getOOMKilled()) ? ", out of memory" : "")
        + ")";
  }

  /**
   * The container's last log lines (stdout and stderr), empty when there are none or it is gone.
   */
  String logTail(String containerId) {
    StringBuilder out = new StringBuilder();
    try {
      docker
          .logContainerCmd(containerId)
          .withStdOut(true)
          .withStdErr(true)
          .withTail(options.logTailLines())
          .exec(
              new ResultCallback.Adapter<Frame>() {
                @Override
                public void onNext(Frame frame) {
                  synchronized (out) {
                    out.append(new String(frame.getPayload(), StandardCharsets.UTF_8));
                  }
                }
              })
          .awaitCompletion(5, TimeUnit.SECONDS);
    } catch (NotFoundException e) {
      return "";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      log.debug("cannot read the log of {}: {}", containerId, e.toString());
    }
    synchronized (out) {
      return out.toString().strip();
    }
  }

  /** Stops (unless {@code stopTimeout} is zero) and removes the container; a gone one is fine. */
  void remove(String containerId, Duration stopTimeout) {
    if (containerId == null) {
      return;
    }
    try {
      if (!stopTimeout.isZero()) {
        docker
            .stopContainerCmd(containerId)
            .withTimeout((int) Math.max(1, stopTimeout.toSeconds()))
            .exec();
      }
    } catch (NotFoundException | NotModifiedException e) {
      // already stopped or gone
    } catch (DockerException e) {
      log.warn("cannot stop container {}: {}", containerId, e.getMessage());
    }
    try {
      docker.removeContainerCmd(containerId).withForce(true).withRemoveVolumes(true).exec();
    } catch (NotFoundException e) {
      // gone
    } catch (DockerException e) {
      if (!String.valueOf(e.getMessage()).contains("already in progress")) {
        log.warn("cannot remove container {}: {}", containerId, e.getMessage());
      }
    }
  }
}
