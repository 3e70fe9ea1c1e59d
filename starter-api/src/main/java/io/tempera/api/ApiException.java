package io.tempera.api;

import io.tempera.template.RequestProblem;
import java.util.List;
import org.springframework.http.HttpStatus;

/** A request the API refuses: an HTTP status, a stable code and a sentence for a person. */
public class ApiException extends RuntimeException {

  private final HttpStatus status;
  private final String code;
  private final List<RequestProblem> problems;
  private final Integer retryAfterSeconds;

  public ApiException(HttpStatus status, String code, String message) {
    this(status, code, message, List.of());
  }

  public ApiException(
      HttpStatus status, String code, String message, List<RequestProblem> problems) {
    this(status, code, message, problems, null);
  }

  private ApiException(
      HttpStatus status,
      String code,
      String message,
      List<RequestProblem> problems,
      Integer retryAfterSeconds) {
    super(message, null, false, false);
    this.status = status;
    this.code = code;
    this.problems = List.copyOf(problems);
    this.retryAfterSeconds = retryAfterSeconds;
  }

  public HttpStatus status() {
    return status;
  }

  public String code() {
    return code;
  }

  public List<RequestProblem> problems() {
    return problems;
  }

  /** When to try again, in seconds (a {@code Retry-After} header); null when not said. */
  public Integer retryAfterSeconds() {
    return retryAfterSeconds;
  }

  /** A 429: over a limit for now; {@code Retry-After} says when it is worth trying again. */
  public static ApiException tooManyRequests(String code, String message, int retryAfterSeconds) {
    return new ApiException(
        HttpStatus.TOO_MANY_REQUESTS, code, message, List.of(), retryAfterSeconds);
  }

  public static ApiException notFound(String what) {
    return new ApiException(HttpStatus.NOT_FOUND, "NOT_FOUND", what);
  }

  public static ApiException badRequest(String code, String message) {
    return new ApiException(HttpStatus.BAD_REQUEST, code, message);
  }
}
