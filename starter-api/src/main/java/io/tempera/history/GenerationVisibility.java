package io.tempera.history;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.tempera.generation.GenerationSearchAttributes;
import io.tempera.template.QualityTier;
import io.temporal.api.enums.v1.WorkflowExecutionStatus;
import io.temporal.api.workflowservice.v1.ListClosedWorkflowExecutionsRequest;
import io.temporal.api.workflowservice.v1.ListOpenWorkflowExecutionsRequest;
import io.temporal.api.workflowservice.v1.ListWorkflowExecutionsRequest;
import io.temporal.api.workflowservice.v1.ListWorkflowExecutionsResponse;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowExecutionMetadata;
import io.temporal.common.SearchAttributeKey;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Finding generations in Temporal's visibility store, for {@code ops list} and the API's history: a
 * filter is a visibility query (TemperaProject, TemperaStatus, … search attributes) and the same
 * test in Java, for a server that answers no queries (the in-process test server), where the
 * server's lists of open and closed workflows are read and filtered here.
 */
public final class GenerationVisibility {

  /** The workflow type of a generation. */
  public static final String WORKFLOW_TYPE = "GenerationWorkflow";

  /** What a filter value may hold: it goes into a visibility query. */
  public static final Pattern VALUE = Pattern.compile("[A-Za-z0-9_.:/@-]{1,200}");

  /** The statuses a filter takes (OPEN: queued or running). */
  public static final List<String> STATUSES =
      List.of("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "OPEN");

  private final WorkflowClient client;

  public GenerationVisibility(WorkflowClient client) {
    this.client = client;
  }

  /** The visibility query and the same filter in Java, for workflows of one type. */
  public record Filter(String type, String query, Predicate<WorkflowExecutionMetadata> test) {

    /** This filter and one more clause. */
    public Filter and(String clause, Predicate<WorkflowExecutionMetadata> also) {
      return new Filter(type, query + " AND " + clause, test.and(also));
    }
  }

  /** A criterion a filter cannot take: which one and why, in words for the person who gave it. */
  public static final class InvalidCriterion extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;
    private final String criterion;

    public InvalidCriterion(String criterion, String message) {
      super(message, null);
      this.criterion = criterion;
    }

    public String criterion() {
      return criterion;
    }
  }

  /** The server knows no Tempera search attributes (they were never registered there). */
  public static final class SearchAttributesMissing extends RuntimeException {
    private static final long serialVersionUID = 1L;

    SearchAttributesMissing(String description) {
      super(
          "this Temporal server does not know the Tempera search attributes ("
              + description
              + "); register them: temporal operator search-attribute create --name"
              + " TemperaStatus --type Keyword (likewise TemperaFunction, TemperaProject,"
              + " TemperaNode, TemperaTier), and start generations with"
              + " tempera.search-attributes=true",
          null,
          false,
          false);
    }
  }

  /** The server answers no visibility queries (the in-process test server). */
  public static final class QueriesUnsupported extends RuntimeException {
    private static final long serialVersionUID = 1L;

    QueriesUnsupported() {
      super("this Temporal server answers no visibility queries", null, false, false);
    }
  }

  /** A filter of generations, clause by clause. */
  public static Criteria generations() {
    return new Criteria(WORKFLOW_TYPE);
  }

  /** A filter of the workflows of {@code type} (a batch's, say), clause by clause. */
  public static Criteria workflows(String type) {
    return new Criteria(type);
  }

  /** The clauses of a filter; each value checked (an {@link InvalidCriterion} when it is bad). */
  public static final class Criteria {
    private final String type;
    private final List<String> query = new ArrayList<>();
    private final List<Predicate<WorkflowExecutionMetadata>> tests = new ArrayList<>();

    private Criteria(String type) {
      this.type = type;
      query.add("WorkflowType = '" + type + "'");
      tests.add(m -> type.equals(m.getWorkflowType()));
    }

    /**
     * One more clause: a visibility query's and the same test in Java (the caller checks any value
     * it puts in the clause).
     */
    public Criteria where(String clause, Predicate<WorkflowExecutionMetadata> test) {
      query.add(clause);
      tests.add(test);
      return this;
    }

    /** Generations of one status (see {@link #STATUSES}, any case); null: any. */
    public Criteria status(String status) {
      if (status == null) {
        return this;
      }
      String wanted = status.toUpperCase(Locale.ROOT);
      switch (wanted) {
        case "QUEUED", "RUNNING" -> {
          query.add("ExecutionStatus = 'Running'");
          query.add("TemperaStatus = '" + wanted + "'");
          tests.add(
              m -> running(m) && wanted.equals(attribute(m, GenerationSearchAttributes.STATUS)));
        }
        case "OPEN" -> {
          query.add("ExecutionStatus = 'Running'");
          tests.add(GenerationVisibility::running);
        }
        case "SUCCEEDED", "FAILED", "CANCELLED" -> {
          query.add(
              switch (wanted) {
                case "SUCCEEDED" -> "ExecutionStatus = 'Completed'";
                case "CANCELLED" -> "ExecutionStatus = 'Canceled'";
                default -> "ExecutionStatus IN ('Failed', 'Terminated', 'TimedOut')";
              });
          tests.add(m -> wanted.equals(statusOf(m)));
        }
        default ->
            throw new InvalidCriterion(
                "status",
                "status is one of queued, running, succeeded, failed, cancelled, open; got "
                    + status);
      }
      return this;
    }

    /** Generations of one tier (its name or alias, as a request gives it); null: any. */
    public Criteria tier(String tier) {
      if (tier == null) {
        return this;
      }
      QualityTier.Resolution resolved = QualityTier.resolve(tier);
      if (resolved.warning() != null) {
        throw new InvalidCriterion(
            "tier", "tier is one of draft, standard, high, ultra; got " + tier);
      }
      String id = resolved.tier().id();
      query.add("TemperaTier = '" + id + "'");
      tests.add(m -> id.equals(attribute(m, GenerationSearchAttributes.TIER)));
      return this;
    }

    /** Generations whose {@code key} is {@code value}; null: any. */
    public Criteria is(String criterion, SearchAttributeKey<String> key, String value) {
      if (value == null) {
        return this;
      }
      if (!VALUE.matcher(value).matches()) {
        throw new InvalidCriterion(
            criterion, criterion + " takes letters, digits and . _ - : / @ only; got " + value);
      }
      query.add(key.getName() + " = '" + value + "'");
      tests.add(m -> value.equals(attribute(m, key)));
      return this;
    }

    /** Generations started at or after {@code since}; null: any. */
    public Criteria since(Instant since) {
      if (since == null) {
        return this;
      }
      query.add("StartTime >= '" + DateTimeFormatter.ISO_INSTANT.format(since) + "'");
      tests.add(m -> m.getStartTime() != null && !m.getStartTime().isBefore(since));
      return this;
    }

    public Filter filter() {
      List<Predicate<WorkflowExecutionMetadata>> all = List.copyOf(tests);
      return new Filter(
          type, String.join(" AND ", query), m -> all.stream().allMatch(t -> t.test(m)));
    }
  }

  /**
   * At most {@code most} of the generations the filter (and {@code also}) selects, newest first: by
   * the server's visibility query, read page by page only as far as needed, or, where the server
   * answers none, from its lists filtered here.
   */
  public List<WorkflowExecutionMetadata> executions(
      Filter filter, Predicate<WorkflowExecutionMetadata> also, int most) {
    try {
      return client.listExecutions(filter.query()).filter(also).limit(most).toList();
    } catch (RuntimeException e) {
      RuntimeException explained = explained(e);
      if (explained instanceof QueriesUnsupported) {
        return listedAndFiltered(filter).filter(also).limit(most).toList();
      }
      throw explained;
    }
  }

  /** One page of a visibility query's answer and the server's token for the next (null: none). */
  public record Page(List<WorkflowExecutionMetadata> items, byte[] next) {}

  /**
   * One page of at most {@code size} generations the filter selects, in the server's order (open
   * ones first, then by when they closed, newest first), from {@code token} (null: the first page);
   * {@link QueriesUnsupported} from a server that answers no queries.
   */
  public Page page(Filter filter, byte[] token, int size) {
    ListWorkflowExecutionsRequest.Builder request =
        ListWorkflowExecutionsRequest.newBuilder()
            .setNamespace(client.getOptions().getNamespace())
            .setQuery(filter.query())
            .setPageSize(size);
    if (token != null) {
      request.setNextPageToken(com.google.protobuf.ByteString.copyFrom(token));
    }
    ListWorkflowExecutionsResponse response;
    try {
      response =
          client.getWorkflowServiceStubs().blockingStub().listWorkflowExecutions(request.build());
    } catch (RuntimeException e) {
      throw explained(e);
    }
    List<WorkflowExecutionMetadata> items =
        response.getExecutionsList().stream()
            .map(
                info -> new WorkflowExecutionMetadata(info, client.getOptions().getDataConverter()))
            .filter(filter.test())
            .toList();
    return new Page(
        items,
        response.getNextPageToken().isEmpty() ? null : response.getNextPageToken().toByteArray());
  }

  /** What a failed visibility call means: no queries here, no Tempera attributes, or itself. */
  private static RuntimeException explained(RuntimeException e) {
    StatusRuntimeException status = statusOf(e);
    if (status == null) {
      return e;
    }
    if (status.getStatus().getCode() == Status.Code.UNIMPLEMENTED) {
      return new QueriesUnsupported();
    }
    if (status.getStatus().getCode() == Status.Code.INVALID_ARGUMENT
        && String.valueOf(status.getStatus().getDescription()).contains("Tempera")) {
      return new SearchAttributesMissing(status.getStatus().getDescription());
    }
    return e;
  }

  /**
   * Without visibility queries: the server's lists of open and closed workflows, each one of the
   * filter's type described (these lists carry no search attributes there), filtered and sorted
   * here, newest first.
   */
  public Stream<WorkflowExecutionMetadata> listedAndFiltered(Filter filter) {
    String namespace = client.getOptions().getNamespace();
    var stub = client.getWorkflowServiceStubs().blockingStub();
    List<io.temporal.api.workflow.v1.WorkflowExecutionInfo> listed = new ArrayList<>();
    listed.addAll(
        stub.listOpenWorkflowExecutions(
                ListOpenWorkflowExecutionsRequest.newBuilder()
                    .setNamespace(namespace)
                    .setMaximumPageSize(10_000)
                    .build())
            .getExecutionsList());
    listed.addAll(
        stub.listClosedWorkflowExecutions(
                ListClosedWorkflowExecutionsRequest.newBuilder()
                    .setNamespace(namespace)
                    .setMaximumPageSize(10_000)
                    .build())
            .getExecutionsList());
    return listed.stream()
        .filter(info -> filter.type().equals(info.getType().getName()))
        .map(info ->
            (WorkflowExecutionMetadata)
                client
                    .newUntypedWorkflowStub(
                        info.getExecution().getWorkflowId(),
                        java.util.Optional.of(info.getExecution().getRunId()),
                        java.util.Optional.empty())
                    .describe())
        .filter(filter.test())
        .sorted(
            Comparator.comparing(
                    WorkflowExecutionMetadata::getStartTime,
                    Comparator.nullsLast(Comparator.<Instant>naturalOrder()))
                .reversed());
  }

  public static boolean running(WorkflowExecutionMetadata m) {
    return m.getStatus() == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING;
  }

  /** A search attribute's value, or null when the generation has none (or it is unreadable). */
  public static String attribute(WorkflowExecutionMetadata m, SearchAttributeKey<String> key) {
    try {
      return m.getTypedSearchAttributes().containsKey(key)
          ? m.getTypedSearchAttributes().get(key)
          : null;
    } catch (RuntimeException unreadable) {
      return null;
    }
  }

  /** A memo entry as a string, or null. */
  public static String memo(WorkflowExecutionMetadata m, String key) {
    try {
      Object value = m.getMemo(key, String.class);
      return value == null ? null : value.toString();
    } catch (RuntimeException unreadable) {
      return null;
    }
  }

  /**
   * A generation's status as a person reads it: a running one's from TemperaStatus (QUEUED or
   * RUNNING; RUNNING without search attributes), an ended one's from how its workflow ended.
   */
  public static String statusOf(WorkflowExecutionMetadata m) {
    return switch (m.getStatus()) {
      case WORKFLOW_EXECUTION_STATUS_RUNNING -> {
        String status = attribute(m, GenerationSearchAttributes.STATUS);
        yield status == null ? "RUNNING" : status;
      }
      case WORKFLOW_EXECUTION_STATUS_COMPLETED -> "SUCCEEDED";
      case WORKFLOW_EXECUTION_STATUS_CANCELED -> "CANCELLED";
      case WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW -> "CONTINUED";
      default -> "FAILED";
    };
  }

  /** The gRPC status somewhere in {@code failure}'s causes, or null. */
  public static StatusRuntimeException statusOf(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof StatusRuntimeException status) {
        return status;
      }
      if (t.getCause() == t) {
        break;
      }
    }
    return null;
  }
}
