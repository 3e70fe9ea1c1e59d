package io.tempera.backend.comfyui;

import static org.assertj.core.api.Assertions.assertThat;

import io.tempera.generation.BackendFile;
import io.tempera.generation.ErrorCode;
import io.tempera.generation.GenerationError;
import io.tempera.generation.PartialFiles;
import io.temporal.failure.ApplicationFailure;
import java.net.URI;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every way a ComfyUI call fails maps into the shared failure taxonomy: the code, whether a retry
 * may help, and the sentence and action a person sees.
 */
class ComfyUiFailureTaxonomyTest {

  private static final ComfyUiEndpoint ENDPOINT =
      ComfyUiBackend.endpoint(
          new ComfyUiClient(URI.create("http://127.0.0.1:1"), ComfyUiClientOptions.defaults()));

  static Stream<Arguments> callFailures() {
    return Stream.of(
        Arguments.of(
            ComfyUiException.Kind.VALIDATION,
            ErrorCode.BACKEND_VALIDATION,
            false,
            "The generator rejected this request; check the inputs.",
            "FIX_INPUT"),
        Arguments.of(
            ComfyUiException.Kind.UNREACHABLE,
            ErrorCode.BACKEND_UNREACHABLE,
            true,
            "The generator could not be reached, even after waiting for it; try again in a few minutes.",
            "RETRY_LATER"),
        Arguments.of(
            ComfyUiException.Kind.SERVER_ERROR,
            ErrorCode.BACKEND_UNREACHABLE,
            true,
            "The generator could not be reached, even after waiting for it; try again in a few minutes.",
            "RETRY_LATER"),
        Arguments.of(
            ComfyUiException.Kind.TIMEOUT,
            ErrorCode.TIMEOUT,
            true,
            "It took longer than its time limit; try again, or try a lower quality.",
            "RETRY"),
        Arguments.of(
            ComfyUiException.Kind.PROTOCOL,
            ErrorCode.INTERNAL,
            true,
            "Something went wrong on our side.",
            "RETRY"),
        Arguments.of(
            ComfyUiException.Kind.NOT_FOUND,
            ErrorCode.OUTPUT_MISSING,
            true,
            "The generator finished but its output could not be saved.",
            "RETRY"),
        Arguments.of(
            ComfyUiException.Kind.ABORTED,
            ErrorCode.INTERNAL,
            true,
            "Something went wrong on our side.",
            "RETRY"));
  }

  @ParameterizedTest(name = "{0} → {1}")
  @MethodSource("callFailures")
  void aFailedCallBecomesATypedFailureWithAUserMessage(
      ComfyUiException.Kind kind,
      ErrorCode code,
      boolean retryable,
      String suggestion,
      String action) {
    ApplicationFailure failure =
        ComfyUiBackend.toFailure(new ComfyUiException(kind, "what the server did"), ENDPOINT);

    assertThat(failure.getType()).isEqualTo(code.name());
    assertThat(failure.isNonRetryable()).isEqualTo(!retryable);
    GenerationError error =
        GenerationError.of(ErrorCode.fromType(failure.getType()), failure.getOriginalMessage());
    assertThat(error.suggestion()).isEqualTo(suggestion);
    assertThat(error.action()).isEqualTo(action);
    assertThat(error.retryable()).isEqualTo(retryable);
    if (kind != ComfyUiException.Kind.VALIDATION) {
      assertThat(error.message())
          .as("the message never names the server's address (an internal host, for operators)")
          .doesNotContain("://")
          .doesNotContain("127.0.0.1");
    }
    assertThat(error.message())
        .as("what the server said is for operators only")
        .doesNotContain("what the server did");
    if (kind != ComfyUiException.Kind.ABORTED) {
      assertThat(failure.getDetails().get(0, String.class)).isEqualTo("what the server did");
    }
  }

  @Test
  void nodeErrorsAreListedNodeByNodeForThePerson() {
    ComfyUiException rejected =
        new ComfyUiException(
            ComfyUiException.Kind.VALIDATION,
            "Prompt outputs failed validation",
            400,
            List.of(
                new NodeError(
                    "3",
                    "ImageScaleBy",
                    "value_bigger_than_max",
                    "Value 9.0 bigger than max of 8.0",
                    "scale_by",
                    "scale_by"),
                new NodeError(
                    "4",
                    "CheckpointLoaderSimple",
                    "value_not_in_list",
                    "Value not in list",
                    "ckpt_name: 'x.safetensors' not in ['/home/comfy/ComfyUI/models/a.safetensors']",
                    "ckpt_name")),
            null);

    ApplicationFailure failure = ComfyUiBackend.toFailure(rejected, ENDPOINT);

    assertThat(failure.getOriginalMessage())
        .isEqualTo(
            "Node 3 (ImageScaleBy): the value of 'scale_by' is out of the range the generator"
                + " accepts; Node 4 (CheckpointLoaderSimple): the value of 'ckpt_name' is not one"
                + " the generator has (a model or file it lacks, or an option it does not offer)")
        .doesNotContain("9.0")
        .doesNotContain("/home/comfy");
    assertThat(failure.getDetails().get(0, String.class))
        .as("operators get what the server said, whole")
        .contains("Value 9.0 bigger than max of 8.0")
        .contains("ckpt_name: 'x.safetensors' not in ['/home/comfy/ComfyUI/models/a.safetensors']");
  }

  /**
   * The out-of-memory texts real ComfyUI servers send (PROTOCOLS.md A5), and one that is not GPU
   * memory.
   */
  static Stream<Arguments> executionErrors() {
    return Stream.of(
        Arguments.of(
            "torch.OutOfMemoryError",
            "Allocation on device \nThis error means you ran out of memory on your GPU.",
            ErrorCode.OUT_OF_GPU_MEMORY),
        Arguments.of(
            "torch.cuda.OutOfMemoryError",
            "CUDA out of memory. Tried to allocate 2.00 GiB",
            ErrorCode.OUT_OF_GPU_MEMORY),
        Arguments.of(
            "torch.AcceleratorError", "CUDA error: out of memory", ErrorCode.OUT_OF_GPU_MEMORY),
        Arguments.of(
            "RuntimeError",
            "[enforce fail at alloc_cpu.cpp:116] DefaultCPUAllocator: can't allocate memory",
            ErrorCode.EXECUTION_ERROR),
        Arguments.of(
            "RuntimeError",
            "Padding size should be less than the corresponding input dimension",
            ErrorCode.EXECUTION_ERROR),
        Arguments.of(
            "torch.AcceleratorError",
            "CUDA error: an illegal memory access was encountered",
            ErrorCode.BACKEND_FAULT),
        Arguments.of(
            "ConnectionResetError",
            "[Errno 104] Connection reset by peer",
            ErrorCode.BACKEND_FAULT));
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("executionErrors")
  void anExecutionErrorIsClassifiedAndKeepsWhatWasProduced(
      String type, String message, ErrorCode code) {
    List<BackendFile> produced =
        List.of(new BackendFile("9", "images", "early_00001_.png", "", "output", "local"));
    ApplicationFailure failure =
        ComfyUiBackend.executionFailure(
            new ExecutionError("5", "KSampler", type, message, List.of()), produced);

    assertThat(failure.getType()).isEqualTo(code.name());
    assertThat(failure.isNonRetryable())
        .as("no activity retry: it would re-attach to this failed run")
        .isTrue();
    if (code == ErrorCode.OUT_OF_GPU_MEMORY) {
      assertThat(failure.getOriginalMessage())
          .isEqualTo(
              "The GPU ran out of memory for this request; try a lower tier or a smaller size");
    } else {
      assertThat(failure.getOriginalMessage()).containsIgnoringCase("node 5 (KSampler)");
    }
    assertThat(failure.getOriginalMessage())
        .doesNotContain("\n")
        .as("the server's words are for operators only")
        .doesNotContain(message.lines().findFirst().orElseThrow());
    assertThat(failure.getDetails().get(PartialFiles.class).files()).isEqualTo(produced);
    assertThat(failure.getDetails().get(1, String.class)).contains(type).contains(message);
    GenerationError error = GenerationError.of(code, failure.getOriginalMessage());
    if (code == ErrorCode.OUT_OF_GPU_MEMORY) {
      assertThat(error.suggestion()).isEqualTo("Not enough GPU memory — try Standard quality.");
      assertThat(error.action()).isEqualTo("REDUCE_QUALITY");
    } else if (code == ErrorCode.BACKEND_FAULT) {
      assertThat(error.action())
          .as("a fault that can pass: the generation runs again")
          .isEqualTo("RETRY");
      assertThat(error.retryable()).isTrue();
    } else {
      assertThat(error.action())
          .as("the same graph fails the same way again: retrying as is cannot help")
          .isEqualTo("FIX_INPUT");
      assertThat(error.retryable()).isFalse();
    }
  }

  @Test
  void aMissingNodeClassIsItsOwnErrorNamingTheClass() {
    ComfyUiException missing =
        new ComfyUiException(
            ComfyUiException.Kind.MISSING_NODE,
            "This ComfyUI has no node class 'FancySampler'",
            400,
            List.of(),
            null,
            "FancySampler");

    ApplicationFailure failure = ComfyUiBackend.toFailure(missing, ENDPOINT);

    assertThat(failure.getType()).isEqualTo(ErrorCode.MISSING_NODE.name());
    assertThat(failure.isNonRetryable()).isTrue();
    assertThat(failure.getOriginalMessage()).contains("'FancySampler'").doesNotContain("null");
    GenerationError error =
        GenerationError.of(ErrorCode.MISSING_NODE, failure.getOriginalMessage());
    assertThat(error.action()).isEqualTo("NONE");
    assertThat(error.retryable()).isFalse();
  }

  @Test
  void theMissingNodeClassIsReadFromOldAndNewServers() throws Exception {
    var json = new com.fasterxml.jackson.databind.ObjectMapper();
    assertThat(
            ComfyUiClient.missingNodeClass(
                json.readTree(
                    """
                    {"type":"invalid_prompt","message":"Cannot execute because node FancySampler does not exist.",                    "details":"Node ID '#3'","extra_info":{}}\
                    """)))
        .contains("FancySampler");
    assertThat(
            ComfyUiClient.missingNodeClass(
                json.readTree(
                    """
                    {"type":"missing_node_type","message":"Node 'Fancy Sampler' not found. The custom node may not be installed.",                    "details":"Node ID '#3'","extra_info":{"node_id":"3","class_type":"FancySampler","node_title":"Fancy Sampler"}}\
                    """)))
        .contains("FancySampler");
    assertThat(
            ComfyUiClient.missingNodeClass(
                json.readTree(
                    """
                    {"type":"prompt_outputs_failed_validation","message":"Prompt outputs failed validation"}\
                    """)))
        .isEmpty();
  }

  @Test
  void anExecutionErrorWithoutDetailsIsStillAnExecutionError() {
    ApplicationFailure failure = ComfyUiBackend.executionFailure(null, List.of());

    assertThat(failure.getType()).isEqualTo(ErrorCode.EXECUTION_ERROR.name());
    assertThat(failure.getOriginalMessage())
        .isEqualTo("The generator reported an error without details");
  }

  @Test
  void everyCodeHasASuggestionAndAnAction() {
    for (ErrorCode code : ErrorCode.values()) {
      assertThat(code.suggestion()).as("%s suggestion", code).isNotBlank().endsWith(".");
      assertThat(code.action())
          .as("%s action", code)
          .isIn("FIX_INPUT", "WAIT", "REDUCE_QUALITY", "RETRY_LATER", "RETRY", "NONE");
    }
  }
}
