package io.tempera.template;

/**
 * Why a ComfyUI template cannot run on a server: its graph, checked against the server's node
 * catalogue, names a node class the server lacks, a model file it does not have, an input the class
 * does not take, a value it refuses, and so on.
 *
 * @param functionId the template's id
 * @param version the template's version
 * @param file the template file
 * @param path where in the template: {@code $.backend.graph["4"].inputs.ckpt_name} for the graph as
 *     written, {@code $.quality_parameters.draft["3.inputs.scale_by"]} for a tier's value, {@code
 *     $.parameter_mapping[0]} for a mapped value, {@code $.parameters.border} for a parameter's
 *     range
 * @param nodeId the graph node (null for the graph as a whole)
 * @param classType the node's class (null for the graph as a whole)
 * @param input the node input (null when the problem is the node itself)
 * @param code a stable code: {@link #UNKNOWN_NODE_CLASS}, {@link #MISSING_MODEL_FILE}, …
 * @param reason a sentence for a person
 * @param blocking true when every run would fail (the function is unavailable); false for a
 *     warning: some requests the template accepts would be refused by the server (a parameter's
 *     range or choices wider than the input's)
 */
public record NodeProblem(
    String functionId,
    String version,
    String file,
    String path,
    String nodeId,
    String classType,
    String input,
    String code,
    String reason,
    boolean blocking) {

  /** The server has no node class of this name (a custom node that is not installed). */
  public static final String UNKNOWN_NODE_CLASS = "UNKNOWN_NODE_CLASS";

  /** A model loader names a file the server does not have. */
  public static final String MISSING_MODEL_FILE = "MISSING_MODEL_FILE";

  /** A combo input is given a value that is not one of its choices. */
  public static final String NOT_A_CHOICE = "NOT_A_CHOICE";

  /** The node class has no input of this name (ComfyUI would ignore the value). */
  public static final String UNKNOWN_INPUT = "UNKNOWN_INPUT";

  /** A required input is neither set, nor linked, nor filled by a parameter. */
  public static final String MISSING_INPUT = "MISSING_INPUT";

  /** A literal value of the wrong type (or a literal where only a link is accepted). */
  public static final String WRONG_TYPE = "WRONG_TYPE";

  /** A number below the input's minimum or above its maximum. */
  public static final String OUT_OF_RANGE = "OUT_OF_RANGE";

  /** A link to a node the graph does not have, or to an output slot the node does not have. */
  public static final String BAD_LINK = "BAD_LINK";

  /** A link from an output whose type the input does not take. */
  public static final String LINK_TYPE_MISMATCH = "LINK_TYPE_MISMATCH";

  /** No node of the graph is an output node: ComfyUI refuses such a prompt. */
  public static final String NO_OUTPUT_NODE = "NO_OUTPUT_NODE";

  /** A parameter allows values (type, choices, range) that the input it fills refuses. */
  public static final String PARAMETER_MISMATCH = "PARAMETER_MISMATCH";

  /** The problem as a template problem: file, path and reason. */
  public TemplateProblem toTemplateProblem() {
    return new TemplateProblem(file, path, reason);
  }

  @Override
  public String toString() {
    return file + " at " + path + ": " + reason;
  }
}
