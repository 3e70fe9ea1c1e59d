package io.tempera.generation;

import io.tempera.template.QualityTier;
import io.temporal.common.SearchAttributeKey;
import io.temporal.common.SearchAttributes;
import java.util.List;

/**
 * Search attributes that make generations findable in the Temporal UI (e.g. {@code TemperaProject =
 * "demo" AND TemperaStatus = "FAILED"}). They must be registered on the Temporal server (Keyword
 * type) before generations are started with them.
 */
public final class GenerationSearchAttributes {

  public static final SearchAttributeKey<String> FUNCTION =
      SearchAttributeKey.forKeyword("TemperaFunction");
  public static final SearchAttributeKey<String> PROJECT =
      SearchAttributeKey.forKeyword("TemperaProject");
  public static final SearchAttributeKey<String> NODE =
      SearchAttributeKey.forKeyword("TemperaNode");
  public static final SearchAttributeKey<String> TIER =
      SearchAttributeKey.forKeyword("TemperaTier");
  public static final SearchAttributeKey<String> STATUS =
      SearchAttributeKey.forKeyword("TemperaStatus");

  public static final List<SearchAttributeKey<String>> ALL =
      List.of(FUNCTION, PROJECT, NODE, TIER, STATUS);

  private GenerationSearchAttributes() {}

  /**
   * The attributes a generation starts with. TemperaTier is the tier it resolves to ({@code
   * premium} is {@code ultra}, an unknown name {@code standard}); the workflow then keeps it to the
   * tier it really runs at, after a step down.
   */
  public static SearchAttributes of(GenerationRequest request) {
    return SearchAttributes.newBuilder()
        .set(FUNCTION, request.functionId())
        .set(PROJECT, request.projectId())
        .set(NODE, request.nodeId())
        .set(TIER, QualityTier.resolve(request.tier()).tier().id())
        .set(STATUS, GenerationStatus.QUEUED.name())
        .build();
  }
}
