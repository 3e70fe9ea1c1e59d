package io.tempera.api;

import io.tempera.template.RequestProblem;
import java.util.List;
import org.springframework.http.HttpStatus;

/** A request the API refuses: an HTTP status, a stable code and a sentence for a person. */
public class ApiException extends RuntimeException {

  private final HttpStatus status;
  private final String code;
  private final List<RequestProblem> problems;

  public ApiException(HttpStatus status, String code, String message) {
    this(status, code, message, List.of());
  }

  public ApiException(
      HttpStatus status, String code, String message, List<RequestProblem> problems) {
    super(message, null, false, false);
    this.status = status;
    this.code = code;
    this.problems = List.copyOf(problems);
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

  public static ApiException notFound(String what) {
    return new ApiException(HttpStatus.NOT_FOUND, "NOT_FOUND", what);
  }

  public static ApiException badRequest(String code, String message) {
    return new ApiException(HttpStatus.BAD_REQUEST, code, message);
  }
}
