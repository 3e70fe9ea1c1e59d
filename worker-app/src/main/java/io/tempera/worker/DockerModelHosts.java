package io.tempera.worker;

import io.micrometer.core.instrument.MeterRegistry;
import io.tempera.containers.DockerModelHost;
import io.tempera.containers.DockerModelHostOptions;
import java.net.InetAddress;
import java.net.UnknownHostException;

/** Builds the worker's {@link DockerModelHost} from {@code tempera.worker.docker.*}. */
final class DockerModelHosts {

  private DockerModelHosts() {}

  static DockerModelHost create(WorkerProperties.Docker docker, MeterRegistry metrics) {
    String hostId = docker.hostId();
    if (hostId == null || hostId.isBlank()) {
      try {
        hostId = InetAddress.getLocalHost().getHostName();
      } catch (UnknownHostException e) {
        hostId = "worker";
      }
      hostId = hostId.replaceAll("[^A-Za-z0-9_.-]", "-");
    }
    DockerModelHostOptions options = new DockerModelHostOptions(
        hostId, docker.gpuVramMb(), docker.gpus(), docker.idleTimeout(), docker.healthPoll(), docker.shutdownGrace(), null,
        docker.logTailLines() == null ? 0 : docker.logTailLines(), null);
    String engine = docker.host() != null && !docker.host().isBlank() ? docker.host() : System.getenv("DOCKER_HOST");
    return new DockerModelHost(DockerModelHost.connect(engine == null ? "unix:///var/run/docker.sock" : engine), options, metrics);
  }
}
