package io.tempera.api;

import org.springframework.http.HttpStatus;

/**
 * The stable codes of refused requests, in REST error bodies ({@code {code, message, problems}})
 * and in the canvas WebSocket's {@code error} messages, each with the HTTP status its REST answer
 * carries (the WebSocket's {@code error} carries it too, as {@code status}). The OpenAPI document
 * and the WebSocket's JSON Schema list these names, and the TypeScript client's types are made from
 * them; ApiErrorCodeTest checks that every code the API's sources refuse with is here, with its
 * status. Clients should expect codes a newer server adds.
 */
public enum ApiErrorCode {
  // 400
  INVALID_REQUEST(HttpStatus.BAD_REQUEST),
  INVALID_BODY(HttpStatus.BAD_REQUEST),
  INVALID_FIELD(HttpStatus.BAD_REQUEST),
  INVALID_JSON(HttpStatus.BAD_REQUEST),
  INVALID_MESSAGE(HttpStatus.BAD_REQUEST),
  UNKNOWN_MESSAGE_TYPE(HttpStatus.BAD_REQUEST),
  INVALID_CURSOR(HttpStatus.BAD_REQUEST),
  INVALID_FILTER(HttpStatus.BAD_REQUEST),
  INVALID_STATUS(HttpStatus.BAD_REQUEST),
  INVALID_LIMIT(HttpStatus.BAD_REQUEST),
  INVALID_SINCE(HttpStatus.BAD_REQUEST),
  MISSING_FILE(HttpStatus.BAD_REQUEST),
  INVALID_HOST(HttpStatus.BAD_REQUEST),
  // 401, 403
  UNAUTHENTICATED(HttpStatus.UNAUTHORIZED),
  FORBIDDEN(HttpStatus.FORBIDDEN),
  ORIGIN_NOT_ALLOWED(HttpStatus.FORBIDDEN),
  UNSAFE_PATH(HttpStatus.FORBIDDEN),
  // 404
  NOT_FOUND(HttpStatus.NOT_FOUND),
  UNKNOWN_PROJECT(HttpStatus.NOT_FOUND),
  UNKNOWN_FUNCTION(HttpStatus.NOT_FOUND),
  UNKNOWN_FUNCTION_VERSION(HttpStatus.NOT_FOUND),
  NO_SUCH_KEY(HttpStatus.NOT_FOUND),
  ENCRYPTION_OFF(HttpStatus.NOT_FOUND),
  NO_WEBHOOK_SETTINGS(HttpStatus.NOT_FOUND),
  // 405, 406, 408
  METHOD_NOT_ALLOWED(HttpStatus.METHOD_NOT_ALLOWED),
  NOT_ACCEPTABLE(HttpStatus.NOT_ACCEPTABLE),
  REQUEST_TIMEOUT(HttpStatus.REQUEST_TIMEOUT),
  // 409, 410
  REQUEST_ID_REUSED(HttpStatus.CONFLICT),
  FUNCTION_UNAVAILABLE(HttpStatus.CONFLICT),
  GENERATION_RUNNING(HttpStatus.CONFLICT),
  OUTPUT_GONE(HttpStatus.GONE),
  // 413, 414, 415, 431
  PAYLOAD_TOO_LARGE(HttpStatus.CONTENT_TOO_LARGE),
  FILE_TOO_LARGE(HttpStatus.CONTENT_TOO_LARGE),
  FIELDS_TOO_LARGE(HttpStatus.CONTENT_TOO_LARGE),
  TOO_MANY_PARTS(HttpStatus.CONTENT_TOO_LARGE),
  MESSAGE_TOO_LARGE(HttpStatus.CONTENT_TOO_LARGE),
  URI_TOO_LONG(HttpStatus.URI_TOO_LONG),
  UNSUPPORTED_FILE(HttpStatus.UNSUPPORTED_MEDIA_TYPE),
  UNSUPPORTED_MEDIA_TYPE(HttpStatus.UNSUPPORTED_MEDIA_TYPE),
  HEADERS_TOO_LARGE(HttpStatus.REQUEST_HEADER_FIELDS_TOO_LARGE),
  // 422
  INVALID_PARAMETERS(HttpStatus.UNPROCESSABLE_CONTENT),
  PRIORITY_NOT_ALLOWED(HttpStatus.UNPROCESSABLE_CONTENT),
  WEBHOOKS_UNAVAILABLE(HttpStatus.UNPROCESSABLE_CONTENT),
  BATCHES_UNAVAILABLE(HttpStatus.UNPROCESSABLE_CONTENT),
  WEBHOOK_INVALID_URL(HttpStatus.UNPROCESSABLE_CONTENT),
  WEBHOOK_NOT_ALLOWED(HttpStatus.UNPROCESSABLE_CONTENT),
  WEBHOOK_ADDRESS_FORBIDDEN(HttpStatus.UNPROCESSABLE_CONTENT),
  WEBHOOK_UNRESOLVABLE(HttpStatus.UNPROCESSABLE_CONTENT),
  IMAGE_TOO_LARGE(HttpStatus.UNPROCESSABLE_CONTENT),
  PAYLOAD_NOT_DECRYPTABLE(HttpStatus.UNPROCESSABLE_CONTENT),
  BATCH_TOO_LARGE(HttpStatus.UNPROCESSABLE_CONTENT),
  BATCH_NOTHING_VARIES(HttpStatus.UNPROCESSABLE_CONTENT),
  INVALID_SWEEP(HttpStatus.UNPROCESSABLE_CONTENT),
  // 429: with Retry-After (REST) or retryAfterSeconds (WebSocket) where the server knows when
  TOO_MANY_CONNECTIONS(HttpStatus.TOO_MANY_REQUESTS),
  TOO_MANY_TASKS(HttpStatus.TOO_MANY_REQUESTS),
  RATE_LIMITED(HttpStatus.TOO_MANY_REQUESTS),
  QUOTA_RUNNING(HttpStatus.TOO_MANY_REQUESTS),
  QUOTA_QUEUED(HttpStatus.TOO_MANY_REQUESTS),
  QUOTA_GPU_TIME(HttpStatus.TOO_MANY_REQUESTS),
  QUEUE_FULL(HttpStatus.TOO_MANY_REQUESTS),
  // 5xx
  INTERNAL(HttpStatus.INTERNAL_SERVER_ERROR),
  DISPATCH_FAILED(HttpStatus.INTERNAL_SERVER_ERROR),
  NO_WORKER(HttpStatus.SERVICE_UNAVAILABLE),
  ORCHESTRATOR_UNAVAILABLE(HttpStatus.SERVICE_UNAVAILABLE),
  HISTORY_UNAVAILABLE(HttpStatus.SERVICE_UNAVAILABLE);

  private final HttpStatus status;

  ApiErrorCode(HttpStatus status) {
    this.status = status;
  }

  /** The HTTP status a REST answer with this code carries. */
  public HttpStatus status() {
    return status;
  }

  /**
   * The HTTP status of {@code code}: its own, else 400 for an unlisted code (a client error the
   * REST routes would answer with it).
   */
  public static int statusOf(String code) {
    for (ApiErrorCode known : values()) {
      if (known.name().equals(code)) {
        return known.status.value();
      }
    }
    return HttpStatus.BAD_REQUEST.value();
  }
}
