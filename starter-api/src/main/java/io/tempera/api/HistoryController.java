package io.tempera.api;

import io.tempera.security.Caller;
import org.springframework.security.core.annotation.AuthenticationPrincipal;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Mono;

/**
 * A project's history: its generations (paged, newest first, filtered), the gallery of its outputs,
 * and deleting a generation's outputs. Each scoped to the caller's project.
 */
@RestController
public class HistoryController {

  private static final java.util.regex.Pattern GENERATION_ID =
      java.util.regex.Pattern.compile("gen-[A-Za-z0-9_-]{1,120}");

  private final GenerationHistory history;

  public HistoryController(GenerationHistory history) {
    this.history = history;
  }

  /**
   * The generations of the caller's project (an operator's: of {@code project}, or of all), newest
   * first; {@code nextCursor} fetches the next page with the same filters.
   */
  @GetMapping("/api/generations")
  public Mono<GenerationHistory.Page<GenerationHistory.Item>> list(
      @RequestParam(required = false) String project,
      @RequestParam(required = false) String status,
      @RequestParam(required = false) String function,
      @RequestParam(required = false) String node,
      @RequestParam(required = false) String since,
      @RequestParam(required = false) String cursor,
      @RequestParam(required = false) String limit,
      @AuthenticationPrincipal Caller caller) {
    GenerationHistory.Query query =
        new GenerationHistory.Query(project, status, function, node, since, cursor, limit);
    return Blocking.call(() -> history.list(query, caller));
  }

  /** The project's stored outputs, newest first, each with a signed URL. */
  @GetMapping("/api/projects/{projectId}/outputs")
  public Mono<GenerationHistory.Page<GenerationHistory.GalleryItem>> gallery(
      @PathVariable String projectId,
      @RequestParam(required = false) String cursor,
      @RequestParam(required = false) String limit,
      @AuthenticationPrincipal Caller caller) {
    return Blocking.call(() -> history.gallery(projectId, cursor, limit, caller));
  }

  /** Deletes an ended generation's outputs (409 while it runs). */
  @DeleteMapping("/api/generations/{id}/outputs")
  public Mono<GenerationHistory.Deleted> deleteOutputs(
      @PathVariable String id, @AuthenticationPrincipal Caller caller) {
    if (!GENERATION_ID.matcher(id).matches()) {
      return Mono.error(
          ApiException.notFound(
              "There is no generation with this id (generation ids look like gen-…)"));
    }
    return Blocking.call(() -> history.deleteOutputs(id, caller));
  }
}
