package io.tempera.backend.comfyui;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tempera.backend.Backend;
import io.tempera.backend.BackendProgress;
import io.tempera.generation.BackendFile;
import io.tempera.generation.BackendJob;
import io.tempera.generation.BackendOutcome;
import io.tempera.generation.ErrorCode;
import io.tempera.generation.FileInput;
import io.temporal.failure.ApplicationFailure;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

/** Runs generation jobs on a ComfyUI server: uploads file inputs, runs the graph, maps failures. */
public final class ComfyUiBackend implements Backend {

  public static final String TYPE = "comfyui";

  private final ComfyUiClient client;

  public ComfyUiBackend(ComfyUiClient client) {
    this.client = client;
  }

  @Override
  public String type() {
    return TYPE;
  }

  /** The ComfyUI client_id of a run: stable across attempts so a re-attached socket gets its events. */
  static String clientIdFor(BackendJob job) {
    return "tempera-" + job.runId();
  }

  @Override
  public BackendOutcome run(BackendJob job, Path projectDir, Consumer<BackendProgress> progress) {
    try {
      ObjectNode graph = job.plan().payload().deepCopy();
      for (FileInput input : job.plan().fileInputs()) {
        Path file = projectDir.resolve(input.projectPath()).normalize();
        if (!file.startsWith(projectDir) || !Files.isRegularFile(file)) {
          throw ApplicationFailure.newNonRetryableFailure(
              "Input '" + input.parameter() + "' names a file that does not exist in the project: " + input.projectPath(),
              ErrorCode.INVALID_REQUEST.name());
        }
        UploadedImage uploaded = client.uploadImage(file, file.getFileName().toString());
        ((ObjectNode) graph.get(input.node()).get("inputs")).put(input.input(), uploaded.loadImageValue());
      }
      PromptResult result =
          client.run(graph, job.runId(), clientIdFor(job), update -> progress.accept(toProgress(update)));
      return switch (result.status()) {
        case SUCCESS -> new BackendOutcome(job.runId(), false, files(result), result.submitted());
        case INTERRUPTED -> new BackendOutcome(job.runId(), true, files(result), result.submitted());
        case ERROR -> throw executionFailure(result.error());
      };
    } catch (ComfyUiException e) {
      throw toFailure(e);
    }
  }

  @Override
  public void cancel(BackendJob job) {
    try {
      client.cancel(job.runId());
    } catch (ComfyUiException e) {
      throw toFailure(e);
    }
  }

  @Override
  public long download(BackendFile file, Path target) {
    try {
      return client.download(
          new OutputFile(file.producer(), file.kind(), file.filename(), file.subfolder(), file.type()), target);
    } catch (ComfyUiException e) {
      throw toFailure(e);
    }
  }

  private static java.util.List<BackendFile> files(PromptResult result) {
    return result.outputs().stream()
        .map(o -> new BackendFile(o.nodeId(), o.kind(), o.filename(), o.subfolder(), o.type()))
        .toList();
  }

  private static BackendProgress toProgress(ProgressUpdate update) {
    String message =
        switch (update.stage()) {
          case QUEUED -> "Waiting in the generator's queue";
          case STARTED -> "Starting";
          case NODE_STARTED, NODE_FINISHED -> "Generating";
          case PREVIEW -> "Generating (preview)";
          case STEP -> update.step() != null && update.totalSteps() != null
              ? "Generating step " + update.step() + " of " + update.totalSteps()
              : "Generating";
        };
    return new BackendProgress(
        update.fraction(), update.step(), update.totalSteps(), update.queuePosition(), message, update.previewBytes());
  }

  static ApplicationFailure executionFailure(ExecutionError error) {
    if (error == null) {
      return ApplicationFailure.newNonRetryableFailure(
          "The generator reported an error without details", ErrorCode.EXECUTION_ERROR.name());
    }
    if (error.outOfMemory()) {
      return ApplicationFailure.newNonRetryableFailure(
          "Not enough GPU memory at node " + error.nodeId() + " (" + error.nodeType() + ")",
          ErrorCode.OUT_OF_GPU_MEMORY.name(), error.exceptionType(), firstLine(error.exceptionMessage()));
    }
    return ApplicationFailure.newNonRetryableFailure(
        "Node " + error.nodeId() + " (" + error.nodeType() + ") failed: " + firstLine(error.exceptionMessage()),
        ErrorCode.EXECUTION_ERROR.name(), error.exceptionType());
  }

  static ApplicationFailure toFailure(ComfyUiException e) {
    return switch (e.kind()) {
      case VALIDATION -> ApplicationFailure.newNonRetryableFailure(e.userMessage(), ErrorCode.BACKEND_VALIDATION.name());
      case UNREACHABLE -> ApplicationFailure.newFailure("ComfyUI is unreachable: " + e.getMessage(), ErrorCode.BACKEND_UNREACHABLE.name());
      case SERVER_ERROR -> ApplicationFailure.newFailure("ComfyUI answered with an error: " + e.getMessage(), ErrorCode.BACKEND_UNREACHABLE.name());
      case TIMEOUT -> ApplicationFailure.newFailure("ComfyUI did not answer in time: " + e.getMessage(), ErrorCode.TIMEOUT.name());
      case PROTOCOL -> ApplicationFailure.newFailure("ComfyUI sent a reply we do not understand: " + e.getMessage(), ErrorCode.INTERNAL.name());
      case NOT_FOUND -> ApplicationFailure.newFailure("An output file is missing on ComfyUI: " + e.getMessage(), ErrorCode.OUTPUT_MISSING.name());
      case ABORTED -> ApplicationFailure.newFailure("The run was stopped while waiting for ComfyUI", ErrorCode.INTERNAL.name());
    };
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "";
    }
    int nl = s.indexOf('\n');
    return (nl < 0 ? s : s.substring(0, nl)).trim();
  }
}
