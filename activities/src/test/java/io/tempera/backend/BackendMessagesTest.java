package io.tempera.backend;

import static org.assertj.core.api.Assertions.assertThat;

import io.tempera.backend.BackendMessages.Rule;
import io.tempera.generation.ErrorCode;
import io.tempera.generation.GenerationError;
import io.temporal.failure.ApplicationFailure;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Each rule of the table that maps a backend's failure to a sentence for a person, and the generic
 * fallback: the sentence names only what the template gave (node id and class type), never the
 * backend's words.
 */
class BackendMessagesTest {

  /** A traceback as ComfyUI's nodes leak them, with server paths. */
  private static final String TRACEBACK =
      "\nTraceback (most recent call last):\n"
          + "  File \"/home/comfy/ComfyUI/execution.py\", line 496, in execute\n";

  static Stream<Arguments> nodeFailures() {
    return Stream.of(
        Arguments.of(
            "torch.OutOfMemoryError",
            "Allocation on device \nThis error means you ran out of memory on your GPU.",
            Rule.OUT_OF_GPU_MEMORY,
            "The GPU ran out of memory for this request; try a lower tier or a smaller size"),
        Arguments.of(
            "RuntimeError",
            "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 7.79 GiB total capacity)",
            Rule.OUT_OF_GPU_MEMORY,
            "The GPU ran out of memory for this request; try a lower tier or a smaller size"),
        Arguments.of(
            "ConnectionResetError",
            "[Errno 104] Connection reset by peer" + TRACEBACK,
            Rule.CONNECTION_OR_TIMEOUT,
            "The generator lost a connection or timed out at node 7 (KSampler)"),
        Arguments.of(
            "RuntimeError",
            "The read operation timed out",
            Rule.CONNECTION_OR_TIMEOUT,
            "The generator lost a connection or timed out at node 7 (KSampler)"),
        Arguments.of(
            "torch.AcceleratorError",
            "CUDA error: an illegal memory access was encountered",
            Rule.MACHINE_FAULT,
            "The generator's GPU or machine failed at node 7 (KSampler)"),
        Arguments.of(
            "FileNotFoundError",
            "[Errno 2] No such file or directory: '/home/comfy/ComfyUI/models/x.safetensors'"
                + TRACEBACK,
            Rule.MISSING_FILE,
            "The generator is missing a model or file that node 7 (KSampler) needs"),
        Arguments.of(
            "RuntimeError",
            "Model in folder 'checkpoints' with filename 'sdxl.safetensors' not found.",
            Rule.MISSING_FILE,
            "The generator is missing a model or file that node 7 (KSampler) needs"),
        Arguments.of(
            "Exception",
            "Node 'FancySampler' not found. The custom node may not be installed.",
            Rule.UNKNOWN_NODE,
            "The generator does not know the node class KSampler of node 7"),
        Arguments.of(
            "ValueError",
            "denoise 1.7 is out of range [0.0, 1.0] for tensor of shape torch.Size([1, 4, 64, 64])",
            Rule.VALUE_OUT_OF_RANGE,
            "The generator refused a value as out of range at node 7 (KSampler)"),
        Arguments.of(
            "RuntimeError",
            "mat1 and mat2 shapes cannot be multiplied (77x768 and 1024x320)" + TRACEBACK,
            Rule.GENERIC,
            "The generator failed at node 7 (KSampler)"),
        Arguments.of(null, null, Rule.GENERIC, "The generator failed at node 7 (KSampler)"));
  }

  @ParameterizedTest(name = "{2}: {1}")
  @MethodSource("nodeFailures")
  void aNodesFailureIsMappedToASentenceForAPerson(
      String type, String message, Rule rule, String sentence) {
    BackendMessages.Mapped mapped = BackendMessages.nodeFailure("7", "KSampler", type, message);

    assertThat(mapped.rule()).isEqualTo(rule);
    assertThat(mapped.message()).isEqualTo(sentence);
    assertThat(mapped.message())
        .doesNotContain("/home")
        .doesNotContain("Traceback")
        .doesNotContain("torch")
        .doesNotContain("Error")
        .doesNotContain("\n");
  }

  @Test
  void theGenericSentenceNamesOnlyWhatTheTemplateGave() {
    assertThat(BackendMessages.nodeFailure("7", "KSampler", "KeyError", "'/srv/x'").message())
        .isEqualTo("The generator failed at node 7 (KSampler)");
    assertThat(BackendMessages.nodeFailure("7", null, "KeyError", "'/srv/x'").message())
        .isEqualTo("The generator failed at node 7");
    assertThat(BackendMessages.nodeFailure(null, null, "KeyError", "'/srv/x'").message())
        .isEqualTo("The generator failed");
  }

  @Test
  void theOutOfMemorySentenceGoesWithAnHonestAction() {
    GenerationError error =
        GenerationError.of(
            ErrorCode.OUT_OF_GPU_MEMORY,
            BackendMessages.nodeFailure("3", "VAEDecode", "torch.OutOfMemoryError", "").message());
    assertThat(error.action()).isEqualTo("REDUCE_QUALITY");
    assertThat(error.retryable()).isFalse();
  }

  static Stream<Arguments> refusals() {
    return Stream.of(
        Arguments.of(
            "value_bigger_than_max",
            "steps",
            "Node 3 (KSampler): the value of 'steps' is out of the range the generator accepts"),
        Arguments.of(
            "value_smaller_than_min",
            "steps",
            "Node 3 (KSampler): the value of 'steps' is out of the range the generator accepts"),
        Arguments.of(
            "value_not_in_list",
            "ckpt_name",
            "Node 3 (KSampler): the value of 'ckpt_name' is not one the generator has (a model or"
                + " file it lacks, or an option it does not offer)"),
        Arguments.of(
            "required_input_missing", "model", "Node 3 (KSampler): the input 'model' is missing"),
        Arguments.of(
            "return_type_mismatch",
            "latent_image",
            "Node 3 (KSampler): the input 'latent_image' has the wrong type"),
        Arguments.of(
            "exception_during_validation",
            null,
            "Node 3 (KSampler): the generator refused this node's inputs"),
        Arguments.of(
            "custom_validation_failed",
            "image",
            "Node 3 (KSampler): the generator refused the value of 'image'"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("refusals")
  void aRefusedInputNamesNodeAndInputNeverTheBackendsWords(
      String type, String input, String sentence) {
    assertThat(BackendMessages.refusedInput("3", "KSampler", type, input)).isEqualTo(sentence);
  }

  @Test
  void anAppsOwnMessageIsToldAsItIsWithinBounds() {
    assertThat(BackendMessages.appMessage("The prompt is not allowed: it's rude"))
        .isEqualTo("The prompt is not allowed: it's rude");
    assertThat(BackendMessages.appMessage("two\nlines\u0007 and\u001b[31m a bell\u202e"))
        .isEqualTo("two lines and[31m a bell");
    String told = BackendMessages.appMessage("x".repeat(2_000));
    assertThat(told).hasSize(BackendMessages.APP_MESSAGE_LIMIT).endsWith("…");
    assertThat(BackendMessages.appMessage(null)).isEmpty();
  }

  @Test
  void aSharedFaultSaysWhatKindOfServerAndFaultNeverTheReplyOrTheAddress() {
    for (BackendFault fault : BackendFault.values()) {
      assertThat(BackendMessages.fault(fault, "ComfyUI (http://gpu-1:8188)"))
          .contains("ComfyUI")
          .doesNotContain("gpu-1")
          .doesNotContain("http");
      assertThat(BackendMessages.fault(fault, "http://10.0.0.7:7860/"))
          .doesNotContain("10.0.0.7")
          .containsIgnoringCase("generator");
    }
    assertThat(BackendMessages.fault(BackendFault.UNREACHABLE, "Gradio (http://app:7860)"))
        .isEqualTo("Gradio is unreachable");
  }

  @Test
  void theBackendsTextGoesToTheDetailsWholeAndNotIntoTheMessage() {
    String raw = "RuntimeError: /home/comfy/x.safetensors" + TRACEBACK;
    ApplicationFailure failure =
        BackendMessages.failure(
            "The generator failed at node 7 (KSampler)",
            ErrorCode.EXECUTION_ERROR,
            true,
            "ComfyUI (http://gpu-1:8188)",
            raw,
            "first detail");

    assertThat(failure.getOriginalMessage()).isEqualTo("The generator failed at node 7 (KSampler)");
    assertThat(failure.getType()).isEqualTo("EXECUTION_ERROR");
    assertThat(failure.isNonRetryable()).isTrue();
    assertThat(failure.getDetails().get(0, String.class)).isEqualTo("first detail");
    assertThat(failure.getDetails().get(1, String.class)).isEqualTo(raw);

    ApplicationFailure nothingSaid =
        BackendMessages.failure("x", ErrorCode.BACKEND_UNREACHABLE, false, "here", null);
    assertThat(nothingSaid.isNonRetryable()).isFalse();
    assertThat(nothingSaid.getDetails().getSize()).isZero();
  }
}
