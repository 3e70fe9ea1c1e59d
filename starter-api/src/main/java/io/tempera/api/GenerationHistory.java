package io.tempera.api;

import io.tempera.generation.GenerationSearchAttributes;
import io.tempera.generation.GenerationState;
import io.tempera.generation.OutputRef;
import io.tempera.history.GenerationRecords;
import io.tempera.history.GenerationRecords.GenerationRecord;
import io.tempera.history.GenerationVisibility;
import io.tempera.outputs.OutputStore;
import io.tempera.security.Caller;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowExecutionMetadata;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Stream;
import org.springframework.http.HttpStatus;
import org.springframework.stereotype.Service;

/**
 * A project's generations and outputs over time: the list of generations (from Temporal's
 * visibility, with each ended one's outputs from the output store), the gallery of outputs, and
 * deleting a generation's outputs. Blocking calls.
 *
 * <p>Paging: a cursor is opaque to clients; it carries where the next page starts (the server's
 * page token, or a position where the server answers no visibility queries) and a fingerprint of
 * the filter it was made for, so a cursor sent with other filters is refused rather than mixing two
 * lists.
 */
@Service
public class GenerationHistory {

  /** Items per page unless {@code limit} says otherwise, and the most a page may hold. */
  public static final int DEFAULT_LIMIT = 20;

  public static final int MAX_LIMIT = 100;

  private final GenerationService generations;
  private final GenerationVisibility visibility;
  private final OutputStore outputs;
  private final GenerationRecords records;

  public GenerationHistory(
      GenerationService generations, WorkflowClient client, OutputStore outputs) {
    this.generations = generations;
    this.visibility = new GenerationVisibility(client);
    this.outputs = outputs;
    this.records = generations.records();
  }

  /** What a list of generations asks for (each may be null), as the query string gave it. */
  public record Query(
      String project,
      String status,
      String function,
      String node,
      String since,
      String cursor,
      String limit) {}

  /** One entry of the list: what a canvas shows of a generation in its history. */
  @com.fasterxml.jackson.annotation.JsonInclude(
      com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL)
  public record Item(
      String id,
      String status,
      String functionId,
      String projectId,
      String nodeId,
      String tier,
      String startedAt,
      String endedAt,
      List<ApiMessages.Output> outputs,
      ApiMessages.Failure error) {}

  /** A page of the list and the cursor of the next one (null: this was the last). */
  public record Page<T>(List<T> items, String nextCursor) {}

  /** One output in a project's gallery. */
  @com.fasterxml.jackson.annotation.JsonInclude(
      com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL)
  public record GalleryItem(
      String generationId,
      String functionId,
      String nodeId,
      String createdAt,
      String name,
      String url,
      String contentType,
      long sizeBytes,
      Integer width,
      Integer height) {}

  /** What deleting a generation's outputs deleted. */
  public record Deleted(String id, List<String> deleted) {}

  // --- the list ---------------------------------------------------------------------------

  /** A page of the generations {@code query} selects, newest first, for {@code caller}. */
  public Page<Item> list(Query query, Caller caller) {
    String project = scopedProject(query.project(), caller);
    int limit = limit(query.limit());
    Instant since = since(query.since());
    GenerationVisibility.Filter filter;
    try {
      filter =
          GenerationVisibility.generations()
              .status(query.status())
              .is("project", GenerationSearchAttributes.PROJECT, project)
              .is("function", GenerationSearchAttributes.FUNCTION, query.function())
              .is("node", GenerationSearchAttributes.NODE, query.node())
              .since(since)
              .filter();
    } catch (GenerationVisibility.InvalidCriterion e) {
      throw ApiException.badRequest(
          e.criterion().equals("status") ? "INVALID_STATUS" : "INVALID_FILTER", e.getMessage());
    }
    Cursor cursor = Cursor.parse(query.cursor(), filter.query());
    if (!cursor.position()) {
      try {
        GenerationVisibility.Page page = visibility.page(filter, cursor.token(), limit);
        List<Item> items = page.items().stream().map(this::item).toList();
        return new Page<>(
            items, page.next() == null ? null : Cursor.token(filter.query(), page.next()));
      } catch (GenerationVisibility.QueriesUnsupported noQueries) {
        if (cursor.token() != null) {
          throw Cursor.invalid();
        }
        // the in-process test server: its lists, filtered here, and the recorded ones it lost
      } catch (GenerationVisibility.SearchAttributesMissing missing) {
        throw new ApiException(
            HttpStatus.SERVICE_UNAVAILABLE,
            "HISTORY_UNAVAILABLE",
            "The generation history is not available: the Temporal server does not know the"
                + " Tempera search attributes (an operator registers them)");
      }
    }
    List<Item> all = listedHere(filter, project, query, since);
    int from = (int) Math.min(cursor.offset(), all.size());
    int to = Math.min(from + limit, all.size());
    return new Page<>(
        all.subList(from, to), to < all.size() ? Cursor.position(filter.query(), to) : null);
  }

  /**
   * Where the server answers no visibility queries: its generations filtered here and the ended
   * ones recorded in the output store that it no longer has, newest first.
   */
  private List<Item> listedHere(
      GenerationVisibility.Filter filter, String project, Query query, Instant since) {
    record Dated(Instant startedAt, Item item) {}
    List<Dated> items = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    visibility
        .listedAndFiltered(filter)
        .forEach(m -> {
          seen.add(m.getExecution().getWorkflowId());
          items.add(new Dated(m.getStartTime(), item(m)));
        });
    String status = query.status() == null ? null : query.status().toUpperCase(Locale.ROOT);
    records
        .all(project)
        .filter(r -> !seen.contains(r.state().generationId()))
        .filter(r -> status == null || status.equals(r.state().status().name()))
        .filter(r -> query.function() == null || query.function().equals(r.state().functionId()))
        .filter(r -> query.node() == null || query.node().equals(r.state().nodeId()))
        .filter(r -> since == null || (r.startedAt() != null && !r.startedAt().isBefore(since)))
        .forEach(r -> items.add(new Dated(r.startedAt(), item(r))));
    return items.stream()
        .sorted(
            Comparator.comparing(
                    Dated::startedAt, Comparator.nullsLast(Comparator.<Instant>reverseOrder()))
                .thenComparing(d -> d.item().id(), Comparator.reverseOrder()))
        .map(Dated::item)
        .toList();
  }

  /** A listed generation: a running one as visibility has it, an ended one with its outputs. */
  private Item item(WorkflowExecutionMetadata m) {
    String id = m.getExecution().getWorkflowId();
    if (!GenerationVisibility.running(m)) {
      try {
        GenerationState state = generations.state(id);
        return item(state, m.getStartTime(), m.getCloseTime());
      } catch (RuntimeException unreadable) {
        // listed by its workflow alone: its outputs could not be read now
      }
    }
    String function = GenerationVisibility.attribute(m, GenerationSearchAttributes.FUNCTION);
    String project = GenerationVisibility.attribute(m, GenerationSearchAttributes.PROJECT);
    return new Item(
        id,
        GenerationVisibility.statusOf(m),
        function != null ? function : GenerationVisibility.memo(m, GenerationService.MEMO_FUNCTION),
        project != null ? project : GenerationVisibility.memo(m, GenerationService.MEMO_PROJECT),
        GenerationVisibility.attribute(m, GenerationSearchAttributes.NODE),
        GenerationVisibility.attribute(m, GenerationSearchAttributes.TIER),
        text(m.getStartTime()),
        text(m.getCloseTime()),
        List.of(),
        null);
  }

  private Item item(GenerationRecord record) {
    return item(record.state(), record.startedAt(), record.endedAt());
  }

  private Item item(GenerationState state, Instant startedAt, Instant endedAt) {
    ApiMessages.Generation view = generations.toView(state, java.util.Optional.empty());
    return new Item(
        state.generationId(),
        state.status().name(),
        state.functionId(),
        state.projectId(),
        state.nodeId(),
        state.tierUsed() != null ? state.tierUsed() : state.tierRequested(),
        text(startedAt),
        text(endedAt),
        view.outputs().stream().filter(o -> stored(state, o.name())).toList(),
        view.error());
  }

  /** Whether the output's file is still in the output store. */
  private boolean stored(GenerationState state, String name) {
    return state.outputs().stream()
        .filter(o -> o.name().equals(name))
        .anyMatch(o -> outputs.isRegularFile(outputs.resolve(o.path())));
  }

  /** An instant as ISO-8601 text (UTC), or null. */
  private static String text(Instant at) {
    return at == null ? null : java.time.format.DateTimeFormatter.ISO_INSTANT.format(at);
  }

  // --- the gallery ------------------------------------------------------------------------

  /**
   * A page of the outputs of {@code projectId}'s generations still stored, newest first: those the
   * output store recorded, after recording the ended ones Temporal knows that it had not yet.
   */
  public Page<GalleryItem> gallery(
      String projectId, String cursorText, String limitText, Caller caller) {
    String project = scopedProject(projectId, caller);
    int limit = limit(limitText);
    String fingerprint = "gallery:" + project;
    Cursor cursor = Cursor.parse(cursorText, fingerprint);
    if (cursor.token() != null) {
      throw Cursor.invalid();
    }
    if (cursor.offset() == 0) {
      recordEnded(project, System.nanoTime() + java.time.Duration.ofSeconds(20).toNanos());
    }
    List<GalleryItem> all =
        records
            .all(project)
            .filter(r -> !r.outputsDeleted())
            .sorted(
                Comparator.comparing(
                        GenerationRecord::endedAt,
                        Comparator.nullsLast(Comparator.<Instant>reverseOrder()))
                    .thenComparing(r -> r.state().generationId(), Comparator.reverseOrder()))
            .flatMap(this::galleryItems)
            .toList();
    int from = (int) Math.min(cursor.offset(), all.size());
    int to = Math.min(from + limit, all.size());
    return new Page<>(
        all.subList(from, to), to < all.size() ? Cursor.position(fingerprint, to) : null);
  }

  private Stream<GalleryItem> galleryItems(GenerationRecord record) {
    GenerationState state = record.state();
    return generations.toView(state, java.util.Optional.empty()).outputs().stream()
        .filter(o -> stored(state, o.name()))
        .map(o ->
            new GalleryItem(
                state.generationId(),
                state.functionId(),
                state.nodeId(),
                text(record.endedAt()),
                o.name(),
                o.url(),
                o.contentType(),
                o.sizeBytes(),
                o.width(),
                o.height()));
  }

  /**
   * Records every ended generation Temporal has that the output store has not recorded yet, of
   * every project: what the embedded system does before its in-process server stops, so that the
   * finished generations nobody read stay readable after a restart. Stops once {@code within} has
   * passed (a shutdown waits no longer). How many it recorded.
   */
  public int recordAllEnded(java.time.Duration within) {
    return recordEnded(null, System.nanoTime() + within.toNanos());
  }

  /**
   * Reads (and so records) the ended generations of {@code project} (null: of all) not recorded
   * yet; how many.
   */
  private int recordEnded(String project, long deadline) {
    int count = 0;
    Set<String> recorded = new HashSet<>();
    records.all(project).forEach(r -> recorded.add(r.state().generationId()));
    GenerationVisibility.Filter ended =
        GenerationVisibility.generations()
            .is("project", GenerationSearchAttributes.PROJECT, project)
            .filter()
            .and("ExecutionStatus != 'Running'", m -> !GenerationVisibility.running(m));
    try {
      for (WorkflowExecutionMetadata m :
          visibility.executions(ended, m -> true, 10 * MAX_LIMIT * MAX_LIMIT)) {
        String id = m.getExecution().getWorkflowId();
        if (System.nanoTime() - deadline > 0) {
          break;
        }
        if (!recorded.contains(id)) {
          try {
            generations.state(id);
            count++;
          } catch (RuntimeException unreadable) {
            // not in the gallery until it can be read
          }
        }
      }
    } catch (GenerationVisibility.SearchAttributesMissing missing) {
      // the gallery shows what the output store recorded
    }
    return count;
  }

  // --- deleting outputs -------------------------------------------------------------------

  /**
   * Deletes an ended generation's stored outputs and preview (a running one: 409); the generation
   * stays in the history, without outputs.
   */
  public Deleted deleteOutputs(String id, Caller caller) {
    GenerationState state = generations.state(id);
    if (caller == null || !caller.actsFor(state.projectId())) {
      throw ApiException.notFound("There is no such generation");
    }
    if (!state.status().terminal()) {
      throw new ApiException(
          HttpStatus.CONFLICT,
          "GENERATION_RUNNING",
          "Generation " + id + " is " + state.status() + ": cancel it or wait for its end first");
    }
    List<String> deleted = new ArrayList<>();
    for (OutputRef ref : state.outputs()) {
      if (delete(outputs.resolve(ref.path()))) {
        deleted.add(ref.name());
      }
    }
    delete(outputs.previewFile(state.projectId(), id));
    GenerationRecord before = records.find(id).orElse(null);
    GenerationState withoutOutputs = withoutOutputs(state);
    records.write(
        new GenerationRecord(
            withoutOutputs,
            before == null ? null : before.startedAt(),
            before == null ? null : before.endedAt(),
            true));
    generations.forget(id, withoutOutputs);
    return new Deleted(id, List.copyOf(deleted));
  }

  /** Deletes a regular file under the output root (never through a link); whether it was there. */
  private boolean delete(Path file) {
    return outputs
        .regularFile(file)
        .map(f -> {
          try {
            return Files.deleteIfExists(f);
          } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot delete an output", e);
          }
        })
        .orElse(false);
  }

  private static GenerationState withoutOutputs(GenerationState s) {
    return new GenerationState(
        s.generationId(),
        s.status(),
        s.phase(),
        s.progress(),
        s.queuePosition(),
        s.functionId(),
        s.functionVersion(),
        s.projectId(),
        s.nodeId(),
        s.tierRequested(),
        s.tierUsed(),
        s.warnings(),
        List.of(),
        s.error(),
        s.fallbacks(),
        s.variant(),
        s.modelColdStartMillis(),
        s.values(),
        s.parameters());
  }

  // --- the query's parts ------------------------------------------------------------------

  /**
   * The project a request may look at: a project key's own (another one is answered as a project
   * that does not exist), any one an operator names, or every one (null) for an operator naming
   * none.
   */
  static String scopedProject(String project, Caller caller) {
    if (project != null && !OutputStore.safeSegment(project)) {
      throw ApiException.badRequest(
          "INVALID_FILTER",
          "project must be 1-128 letters, digits, '_', '-' or '.', starting with a letter or digit");
    }
    if (caller == null) {
      throw GenerationService.unknownProject();
    }
    if (caller.operator()) {
      return project;
    }
    if (project == null) {
      return caller.projectId();
    }
    if (!caller.actsFor(project)) {
      throw GenerationService.unknownProject();
    }
    return project;
  }

  static int limit(String text) {
    if (text == null) {
      return DEFAULT_LIMIT;
    }
    int limit;
    try {
      limit = Integer.parseInt(text.strip());
    } catch (NumberFormatException e) {
      limit = -1;
    }
    if (limit < 1 || limit > MAX_LIMIT) {
      throw ApiException.badRequest(
          "INVALID_LIMIT", "limit is a whole number from 1 to " + MAX_LIMIT + " (default 20)");
    }
    return limit;
  }

  /** An instant (2026-01-31T12:00:00Z) or a day (2026-01-31, from its start in UTC). */
  static Instant since(String text) {
    if (text == null) {
      return null;
    }
    try {
      return Instant.parse(text.strip());
    } catch (DateTimeParseException notAnInstant) {
      try {
        return LocalDate.parse(text.strip()).atStartOfDay(ZoneOffset.UTC).toInstant();
      } catch (DateTimeParseException notADay) {
        throw ApiException.badRequest(
            "INVALID_SINCE", "since is an instant (2026-01-31T12:00:00Z) or a day (2026-01-31)");
      }
    }
  }

  /**
   * Where a page starts: the server's token, or a position in the list (where the server answers no
   * queries, and in the gallery), for one filter (its fingerprint).
   */
  record Cursor(byte[] token, long offset, boolean position) {

    private static final Cursor FIRST = new Cursor(null, 0, false);

    /**
     * The text of a cursor at the server's {@code token}: base64url of "1.{fingerprint}.t.{token}".
     */
    static String token(String filter, byte[] token) {
      return encode(filter, "t." + Base64.getUrlEncoder().withoutPadding().encodeToString(token));
    }

    /** The text of a cursor at {@code offset} in the list: base64url of "1.{fingerprint}.p.{n}". */
    static String position(String filter, long offset) {
      return encode(filter, "p." + offset);
    }

    private static String encode(String filter, String where) {
      return Base64.getUrlEncoder()
          .withoutPadding()
          .encodeToString(
              ("1." + fingerprint(filter) + "." + where).getBytes(StandardCharsets.UTF_8));
    }

    static Cursor parse(String text, String filter) {
      if (text == null || text.isEmpty()) {
        return FIRST;
      }
      String decoded;
      try {
        decoded = new String(Base64.getUrlDecoder().decode(text), StandardCharsets.UTF_8);
      } catch (IllegalArgumentException e) {
        throw invalid();
      }
      String[] parts = decoded.split("\\.", 4);
      if (parts.length != 4 || !parts[0].equals("1")) {
        throw invalid();
      }
      if (!parts[1].equals(fingerprint(filter))) {
        throw new ApiException(
            HttpStatus.BAD_REQUEST,
            "INVALID_CURSOR",
            "This cursor was made for other filters: send the same filters as for the page it came"
                + " from, or leave the cursor out to start again");
      }
      try {
        return switch (parts[2]) {
          case "t" -> new Cursor(Base64.getUrlDecoder().decode(parts[3]), 0, false);
          case "p" -> {
            long offset = Long.parseLong(parts[3]);
            if (offset < 0) {
              throw invalid();
            }
            yield new Cursor(null, offset, true);
          }
          default -> throw invalid();
        };
      } catch (IllegalArgumentException e) {
        throw invalid();
      }
    }

    static ApiException invalid() {
      return new ApiException(
          HttpStatus.BAD_REQUEST,
          "INVALID_CURSOR",
          "This cursor is not one this API gave out (send the nextCursor of a page as it came)");
    }

    private static String fingerprint(String filter) {
      try {
        byte[] digest =
            java.security.MessageDigest.getInstance("SHA-256")
                .digest(filter.getBytes(StandardCharsets.UTF_8));
        return HexFormat.of().formatHex(digest, 0, 6);
      } catch (java.security.NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
    }
  }
}
