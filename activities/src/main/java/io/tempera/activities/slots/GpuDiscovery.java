package io.tempera.activities.slots;

import io.tempera.slots.Gpu;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The GPUs of this machine as {@code nvidia-smi} reports them; none when it is not installed. */
public final class GpuDiscovery {

  private static final Logger log = LoggerFactory.getLogger(GpuDiscovery.class);

  private GpuDiscovery() {}

  /**
   * Runs {@code nvidia-smi --query-gpu=index,memory.total}; an empty list when it is missing or
   * fails.
   */
  public static List<Gpu> discover() {
    try {
      Process process =
          new ProcessBuilder(
                  "nvidia-smi", "--query-gpu=index,memory.total", "--format=csv,noheader,nounits")
              .redirectErrorStream(true)
              .start();
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        log.warn("nvidia-smi did not answer within 10 s; no GPUs discovered");
        return List.of();
      }
      String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (process.exitValue() != 0) {
        log.info("nvidia-smi failed ({}): {}", process.exitValue(), out.strip());
        return List.of();
      }
      return parse(out);
    } catch (IOException notInstalled) {
      return List.of();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return List.of();
    }
  }

  /** Parses lines like {@code 0, 24576} (index, MiB); skips lines it cannot read. */
  public static List<Gpu> parse(String csv) {
    List<Gpu> gpus = new ArrayList<>();
    for (String line : csv.split("\\R", -1)) {
      String[] parts = line.split(",", -1);
      if (parts.length != 2) {
        continue;
      }
      try {
        gpus.add(new Gpu(Integer.parseInt(parts[0].strip()), Integer.parseInt(parts[1].strip())));
      } catch (NumberFormatException e) {
        log.debug("skipping nvidia-smi line '{}'", line);
      }
    }
    return gpus;
  }
}
