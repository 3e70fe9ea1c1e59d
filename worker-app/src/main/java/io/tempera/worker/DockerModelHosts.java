package io.tempera.worker;

import io.micrometer.core.instrument.MeterRegistry;
import io.tempera.containers.DockerModelHost;
import io.tempera.containers.DockerModelHostOptions;
import io.tempera.slots.Gpu;
import io.tempera.slots.HostRegistration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Builds the worker's {@link DockerModelHost} from {@code tempera.worker.docker.*}. By default its
 * containers carry the host's slot-pool id and share the memory of the GPUs the host offers its
 * pool, so the allocator's leases and the containers' budget agree.
 */
final class DockerModelHosts {

  private DockerModelHosts() {}

  static DockerModelHost create(
      WorkerProperties properties, HostRegistration host, MeterRegistry metrics) {
    WorkerProperties.Docker docker = properties.docker();
    String hostId =
        docker.hostId() == null || docker.hostId().isBlank() ? host.hostId() : docker.hostId();
    Map<Integer, Integer> budget = docker.gpuVramMb();
    if (budget == null || budget.isEmpty()) {
      budget = new LinkedHashMap<>();
      for (Gpu gpu : host.gpus()) {
        budget.put(gpu.index(), gpu.vramMb());
      }
    }
    DockerModelHostOptions options =
        new DockerModelHostOptions(
            hostId,
            budget,
            docker.gpus(),
            docker.idleTimeout(),
            docker.healthPoll(),
            docker.shutdownGrace(),
            null,
            docker.logTailLines() == null ? 0 : docker.logTailLines(),
            null);
    String engine =
        docker.host() != null && !docker.host().isBlank()
            ? docker.host()
            : System.getenv("DOCKER_HOST");
    return new DockerModelHost(
        DockerModelHost.connect(engine == null ? "unix:///var/run/docker.sock" : engine),
        options,
        metrics);
  }
}
