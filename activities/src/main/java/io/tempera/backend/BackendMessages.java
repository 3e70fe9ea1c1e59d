package io.tempera.backend;

import io.tempera.generation.ErrorCode;
import io.temporal.failure.ApplicationFailure;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sentences a person reads when a backend fails, mapped from what the backend said by a small
 * table of known failures. A backend's own text (a Python exception's message and traceback, an
 * HTTP error body, a script's stderr) may hold server paths, tensor shapes, class names: it never
 * becomes part of a person's message. Operators get it whole, in the failure's details (the
 * Temporal UI shows them) and in one WARN line ({@link #failure}).
 *
 * <p>Trusted texts are the exception: a Gradio app's {@code gr.Error} is written by the app's
 * author for the person and is told as it is ({@link #appMessage}: capped, control characters
 * removed); a template's own texts (progress messages) are the template author's.
 */
public final class BackendMessages {

  private static final Logger log = LoggerFactory.getLogger(BackendMessages.class);

  /** How long an app's own message for its user may be. */
  public static final int APP_MESSAGE_LIMIT = 500;

  private BackendMessages() {}

  /** The known kinds of a node's failure, in the order they are tried. */
  public enum Rule {
    OUT_OF_GPU_MEMORY,
    CONNECTION_OR_TIMEOUT,
    MACHINE_FAULT,
    MISSING_FILE,
    UNKNOWN_NODE,
    VALUE_OUT_OF_RANGE,
    GENERIC
  }

  /** A node's failure for a person: the rule that matched and the sentence. */
  public record Mapped(Rule rule, String message) {}

  /** The sentence of a GPU out of memory, wherever it happened. */
  public static final String OUT_OF_GPU_MEMORY =
      "The GPU ran out of memory for this request; try a lower tier or a smaller size";

  /**
   * A node's failure (ComfyUI's {@code execution_error}) for a person.
   *
   * @param nodeId the failing node's id in the template's graph (null when unknown)
   * @param classType its class type in the template's graph (null when unknown)
   * @param exceptionType the backend's exception type, only read
   * @param exceptionMessage the backend's exception message, only read
   */
  public static Mapped nodeFailure(
      String nodeId, String classType, String exceptionType, String exceptionMessage) {
    Rule rule = ruleOf(exceptionType, exceptionMessage);
    String node = node(nodeId, classType);
    String at = node.isEmpty() ? "" : " at " + node;
    String message =
        switch (rule) {
          case OUT_OF_GPU_MEMORY -> OUT_OF_GPU_MEMORY;
          case CONNECTION_OR_TIMEOUT -> "The generator lost a connection or timed out" + at;
          case MACHINE_FAULT -> "The generator's GPU or machine failed" + at;
          case MISSING_FILE ->
              node.isEmpty()
                  ? "The generator is missing a model or file this function needs"
                  : "The generator is missing a model or file that " + node + " needs";
          case UNKNOWN_NODE ->
              classType == null || classType.isBlank()
                  ? "The generator does not know a node class this function needs"
                  : "The generator does not know the node class "
                      + safe(classType)
                      + (nodeId == null || nodeId.isBlank() ? "" : " of node " + safe(nodeId));
          case VALUE_OUT_OF_RANGE ->
              "The generator refused a value as out of range"
                  + (node.isEmpty() ? "" : " at " + node);
          case GENERIC -> "The generator failed" + at;
        };
    return new Mapped(rule, message);
  }

  /** Which known failure a backend's exception is. */
  static Rule ruleOf(String exceptionType, String exceptionMessage) {
    String type = exceptionType == null ? "" : exceptionType;
    String message = exceptionMessage == null ? "" : exceptionMessage;
    String lower = message.toLowerCase(Locale.ROOT);
    String simpleType = type.substring(type.lastIndexOf('.') + 1);
    if (outOfMemory(type, message)) {
      return Rule.OUT_OF_GPU_MEMORY;
    }
    if (CONNECTION_TYPES.contains(simpleType)
        || lower.contains("connection reset")
        || lower.contains("connection refused")
        || lower.contains("broken pipe")
        || lower.contains("timed out")) {
      return Rule.CONNECTION_OR_TIMEOUT;
    }
    if (simpleType.equals("AcceleratorError")
        || message.startsWith("CUDA error")
        || message.contains("CUDNN_STATUS_")
        || message.contains("cuDNN error")
        || message.contains("NCCL error")
        || message.contains("No space left on device")) {
      return Rule.MACHINE_FAULT;
    }
    if (simpleType.equals("FileNotFoundError")
        || lower.contains("no such file or directory")
        || MISSING_FILE.matcher(lower).find()) {
      return Rule.MISSING_FILE;
    }
    if (simpleType.equals("NodeNotFoundError") || UNKNOWN_NODE.matcher(lower).find()) {
      return Rule.UNKNOWN_NODE;
    }
    if (OUT_OF_RANGE.matcher(lower).find()) {
      return Rule.VALUE_OUT_OF_RANGE;
    }
    return Rule.GENERIC;
  }

  /** GPU out of memory, by the rule real ComfyUI servers need (type or message). */
  public static boolean outOfMemory(String exceptionType, String exceptionMessage) {
    String type = exceptionType == null ? "" : exceptionType;
    String message = exceptionMessage == null ? "" : exceptionMessage;
    return type.endsWith("OutOfMemoryError")
        || message.toLowerCase(Locale.ROOT).contains("out of memory")
        || message.contains("Allocation on device");
  }

  private static final Set<String> CONNECTION_TYPES =
      Set.of(
          "ConnectionError",
          "ConnectionResetError",
          "ConnectionRefusedError",
          "ConnectionAbortedError",
          "BrokenPipeError",
          "TimeoutError",
          "ReadTimeout",
          "ConnectTimeout");

  private static final Pattern MISSING_FILE =
      Pattern.compile(
          "(model|file|checkpoint|lora|vae|weights?)\\b[^\\n]{0,80}"
              + "(not found|does not exist|doesn't exist|could not be found|is missing)"
              + "|(not found|does not exist|missing)[^\\n]{0,120}"
              + "\\.(safetensors|ckpt|pt|pth|bin|gguf|onnx|sft)\\b");

  private static final Pattern UNKNOWN_NODE =
      Pattern.compile(
          "node '[^'\\n]{1,100}' not found|node [^\\n]{1,100} does not exist|unknown node (type|class)");

  private static final Pattern OUT_OF_RANGE =
      Pattern.compile(
          "out of (range|bounds)|must be (between|less|greater|at (most|least)|smaller|larger|>|<)"
              + "|bigger than max|smaller than min|exceeds? the (max|min)");

  /**
   * One validation error of a refused request, for a person: the node and input by the template's
   * names and the kind of refusal, never the backend's own words or the values it lists.
   *
   * @param errorType the backend's error type ({@code value_bigger_than_max}, …), only read
   */
  public static String refusedInput(
      String nodeId, String classType, String errorType, String inputName) {
    String node = node(nodeId, classType);
    String who = node.isEmpty() ? "" : capitalized(node) + ": ";
    String input = inputName == null || inputName.isBlank() ? null : "'" + safe(inputName) + "'";
    String type = errorType == null ? "" : errorType;
    String what =
        switch (type) {
          case "value_bigger_than_max", "value_smaller_than_min" ->
              input == null
                  ? "a value is out of the range the generator accepts"
                  : "the value of " + input + " is out of the range the generator accepts";
          case "value_not_in_list" ->
              input == null
                  ? "a value is not one the generator has (a model or file it lacks, or an option"
                      + " it does not offer)"
                  : "the value of "
                      + input
                      + " is not one the generator has (a model or file it lacks, or an option it"
                      + " does not offer)";
          case "required_input_missing" ->
              input == null ? "an input is missing" : "the input " + input + " is missing";
          case "invalid_input_type", "return_type_mismatch", "bad_linked_input" ->
              input == null
                  ? "an input has the wrong type"
                  : "the input " + input + " has the wrong type";
          case "missing_node_type" -> "the generator does not know this node's class";
          default ->
              input == null
                  ? "the generator refused this node's inputs"
                  : "the generator refused the value of " + input;
        };
    return who + what;
  }

  /** A refused request the backend named no node of. */
  public static final String REFUSED = "The generator refused this request";

  /** A node class the generator lacks (the class as the template names it). */
  public static String missingNode(String classType) {
    return "The generator has no node '"
        + safe(classType)
        + "', which this function needs (a custom node that is not installed there)";
  }

  /**
   * A shared fault talking to a backend, for a person: which kind of backend ("ComfyUI", "Gradio"),
   * never its address (an internal host name is for operators, in the failure's details), and what
   * kind of fault.
   */
  public static String fault(BackendFault fault, String server) {
    int address = server == null ? -1 : server.indexOf(" (");
    String where =
        server == null || server.isBlank() || server.contains("://") && address < 0
            ? "The generator"
            : address > 0 ? server.substring(0, address) : server;
    return switch (fault) {
      case UNREACHABLE -> where + " is unreachable";
      case SERVER_ERROR -> where + " answered with an error";
      case TIMEOUT -> where + " did not answer in time";
      case PROTOCOL -> where + " sent a reply we do not understand";
      case NOT_FOUND -> "An output file is missing on " + where;
      case ABORTED -> "The run was stopped while waiting for " + where;
    };
  }

  /**
   * A message an app's author wrote for the app's user (a Gradio {@code gr.Error}): told as it is,
   * but without control characters (line breaks become spaces) and at most {@value
   * #APP_MESSAGE_LIMIT} characters.
   */
  public static String appMessage(String text) {
    if (text == null) {
      return "";
    }
    StringBuilder clean = new StringBuilder(Math.min(text.length(), APP_MESSAGE_LIMIT + 1));
    text.codePoints()
        .forEach(c -> {
          if (c == '\n' || c == '\r' || c == '\t') {
            clean.append(' ');
          } else if (!Character.isISOControl(c)
              && Character.getType(c) != Character.FORMAT
              && Character.getType(c) != Character.SURROGATE) {
            clean.appendCodePoint(c);
          }
        });
    String s = clean.toString().replaceAll(" {2,}", " ").strip();
    if (s.codePointCount(0, s.length()) <= APP_MESSAGE_LIMIT) {
      return s;
    }
    return s.substring(0, s.offsetByCodePoints(0, APP_MESSAGE_LIMIT - 1)) + "…";
  }

  /**
   * A failure whose message is for a person and whose backend text is for operators only: the raw
   * text is the last of the failure's details (after {@code leadingDetails}, which callers read by
   * position) and goes into one WARN line; nothing of it is cut.
   *
   * @param where the backend, for the log: "ComfyUI (http://…)"
   * @param raw what the backend said, whole (null or blank: nothing to keep)
   */
  public static ApplicationFailure failure(
      String message,
      ErrorCode code,
      boolean nonRetryable,
      String where,
      String raw,
      Object... leadingDetails) {
    List<Object> details = new ArrayList<>(Arrays.asList(leadingDetails));
    if (raw != null && !raw.isBlank()) {
      details.add(raw);
      log.warn("{} failed ({}: {}); the backend said: {}", where, code, message, raw);
    }
    Object[] all = details.toArray();
    return nonRetryable
        ? ApplicationFailure.newNonRetryableFailure(message, code.name(), all)
        : ApplicationFailure.newFailure(message, code.name(), all);
  }

  /** "node 7 (KSampler)", "node 7", or "" when the template gave neither. */
  static String node(String nodeId, String classType) {
    boolean id = nodeId != null && !nodeId.isBlank();
    boolean cls = classType != null && !classType.isBlank();
    if (id && cls) {
      return "node " + safe(nodeId) + " (" + safe(classType) + ")";
    }
    if (id) {
      return "node " + safe(nodeId);
    }
    return cls ? "a " + safe(classType) + " node" : "";
  }

  private static String capitalized(String s) {
    return s.isEmpty() ? s : Character.toUpperCase(s.charAt(0)) + s.substring(1);
  }

  /** A template's name as a person reads it: one short line. */
  private static String safe(String name) {
    String s = appMessage(name);
    return s.length() <= 100 ? s : s.substring(0, 99) + "…";
  }
}
