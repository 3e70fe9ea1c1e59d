package io.tempera.batch;

import io.tempera.generation.GenerationRequest;
import io.tempera.webhooks.Webhook;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a batch runs: {@code count} variations of each combination of the {@code sweep}'s values
 * (the cartesian product of its axes, the first axis varying slowest; one combination, the base
 * parameters alone, without a sweep), each a generation of {@code generation} with the
 * combination's values over its parameters and, for each random parameter the request left out (a
 * seed), a value the API drew for that variation.
 *
 * <p>Variation {@code i} is combination {@code i / count}, repeat {@code i % count}.
 *
 * @param generation the generation every variation runs (its parameters the base; no webhook)
 * @param sweep the parameters swept over (empty: none)
 * @param count variations of each combination (1 or more)
 * @param draws for each variation, the random parameters' values drawn for it (empty when the
 *     function has none left out)
 * @param maxInFlight the most of its generations started and not ended at once
 * @param generationQueue the task queue its generations start on (their tier's)
 * @param searchAttributes whether its generations carry the Tempera search attributes
 * @param webhook where the batch's end is POSTed (null: nowhere)
 */
public record BatchRequest(
    GenerationRequest generation,
    List<SweepAxis> sweep,
    int count,
    List<Map<String, Object>> draws,
    int maxInFlight,
    String generationQueue,
    boolean searchAttributes,
    Webhook webhook) {

  public BatchRequest {
    sweep = sweep == null ? List.of() : List.copyOf(sweep);
    draws =
        draws == null
            ? List.of()
            : draws.stream().map(d -> Collections.unmodifiableMap(new LinkedHashMap<>(d))).toList();
    if (count < 1) {
      throw new IllegalArgumentException("a batch runs each combination at least once");
    }
    if (maxInFlight < 1) {
      throw new IllegalArgumentException("a batch runs at least one generation at a time");
    }
  }

  /** How many variations: {@code count} × the number of combinations. */
  public int total() {
    long combinations = 1;
    for (SweepAxis axis : sweep) {
      combinations *= axis.values().size();
    }
    return (int) Math.min(Integer.MAX_VALUE, combinations * count);
  }

  /** What variation {@code index} sets over the base parameters: its sweep values and draws. */
  public Map<String, Object> varied(int index) {
    Map<String, Object> values = new LinkedHashMap<>();
    int combination = index / count;
    List<Object> picked = new ArrayList<>();
    for (int a = sweep.size() - 1; a >= 0; a--) {
      List<Object> axis = sweep.get(a).values();
      picked.add(0, axis.get(combination % axis.size()));
      combination /= axis.size();
    }
    for (int a = 0; a < sweep.size(); a++) {
      values.put(sweep.get(a).parameter(), picked.get(a));
    }
    if (!draws.isEmpty()) {
      values.putAll(draws.get(index));
    }
    return values;
  }

  /** The generation of variation {@code index}, under request id {@code requestId}. */
  public GenerationRequest generationFor(int index, String requestId) {
    Map<String, Object> parameters = new LinkedHashMap<>(generation.parameters());
    parameters.putAll(varied(index));
    return new GenerationRequest(
        generation.functionId(),
        generation.tier(),
        parameters,
        generation.projectId(),
        generation.nodeId(),
        requestId,
        generation.functionVersion(),
        generation.priority(),
        generation.fairShareWeight(),
        null);
  }
}
