package io.tempera.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.core.codec.DecodingException;
import org.springframework.core.io.buffer.DataBufferLimitException;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.web.ErrorResponse;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.server.MethodNotAllowedException;
import org.springframework.web.server.NotAcceptableStatusException;
import org.springframework.web.server.PayloadTooLargeException;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.ServerWebInputException;
import org.springframework.web.server.UnsupportedMediaTypeStatusException;
import reactor.core.publisher.Mono;

/**
 * Every refusal is JSON {code, message, problems?} whatever the request's {@code Accept} asked for;
 * nothing leaks a stack trace, a class name or a file path. A client error is logged once, without
 * a stack trace; only a fault of the server is logged as an error with one.
 */
@RestControllerAdvice
public class ApiErrorHandler
    implements org.springframework.web.server.WebExceptionHandler,
        org.springframework.core.Ordered {

  private static final Logger log = LoggerFactory.getLogger(ApiErrorHandler.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * Every exception a route throws: the answer of the method below that fits it, written as JSON by
   * hand, so that no content negotiation can turn it into a 406 or an HTML page (a client whose
   * Accept asks for XML still learns its generation does not exist).
   */
  @ExceptionHandler(Exception.class)
  public Mono<Void> handle(Exception e, ServerWebExchange exchange) {
    return write(exchange, answerFor(e));
  }

  /**
   * The last resort, before Spring Boot's own error page: whatever no route handled (a WebSocket
   * handshake that is none, a failure outside any controller) is answered in the same JSON.
   */
  @Override
  public Mono<Void> handle(ServerWebExchange exchange, Throwable failure) {
    if (exchange.getResponse().isCommitted()) {
      return Mono.error(failure);
    }
    ResponseEntity<ApiMessages.Error> answer;
    if (failure instanceof ServerWebInputException input && !tooLarge(input)) {
      logClientError(input.getStatusCode(), input);
      answer =
          answer(
              input.getStatusCode(),
              new ApiMessages.Error(
                  codeOf(input.getStatusCode()), messageOf(input.getStatusCode()), null));
    } else if (failure instanceof Exception e) {
      answer = answerFor(e);
    } else {
      answer = unexpected(new IllegalStateException("a failure that is no exception", failure));
    }
    return write(exchange, answer);
  }

  /** Before Spring Boot's error handler (-1), which would answer an HTML page to a browser. */
  @Override
  public int getOrder() {
    return -2;
  }

  private ResponseEntity<ApiMessages.Error> answerFor(Exception e) {
    if (timedOut(e)) {
      // a client that stopped sending mid-request (tempera.limits.read-timeout, request-timeout)
      logClientError(HttpStatus.REQUEST_TIMEOUT, e);
      HttpHeaders close = new HttpHeaders();
      close.set(HttpHeaders.CONNECTION, "close");
      return ResponseEntity.status(HttpStatus.REQUEST_TIMEOUT)
          .headers(close)
          .contentType(MediaType.APPLICATION_JSON)
          .body(
              new ApiMessages.Error(
                  "REQUEST_TIMEOUT",
                  "The request did not arrive in time (the client stopped sending)",
                  null));
    }
    return switch (e) {
      case ApiException api -> api(api);
      case UnsupportedMediaTypeStatusException media -> mediaType(media);
      case MethodNotAllowedException method -> method(method);
      case NotAcceptableStatusException accept -> notAcceptable(accept);
      case PayloadTooLargeException large -> payloadTooLarge(large);
      case DataBufferLimitException large -> payloadTooLarge(large);
      case ServerWebInputException input -> badInput(input);
      case DecodingException input -> badInput(input);
      default -> unexpected(e);
    };
  }

  /**
   * Writes a refusal as the API's JSON error body ({code, message}); for filters that answer before
   * any route is reached (authentication, origins).
   */
  public static Mono<Void> writeError(
      ServerWebExchange exchange, HttpStatus status, String code, String message) {
    return write(
        exchange, ResponseEntity.status(status).body(new ApiMessages.Error(code, message, null)));
  }

  /** Writes the answer as JSON by hand. */
  private static Mono<Void> write(
      ServerWebExchange exchange, ResponseEntity<ApiMessages.Error> answer) {
    ServerHttpResponse response = exchange.getResponse();
    if (answer == null || response.isCommitted()) {
      return Mono.empty(); // the client went away, or the answer had begun: nothing more to say
    }
    response.setStatusCode(answer.getStatusCode());
    answer.getHeaders().forEach((name, values) -> response.getHeaders().put(name, values));
    response.getHeaders().setContentType(MediaType.APPLICATION_JSON);
    byte[] bytes;
    try {
      bytes = JSON.writeValueAsBytes(answer.getBody());
    } catch (JsonProcessingException failure) {
      return Mono.error(failure);
    }
    response.getHeaders().setContentLength(bytes.length);
    return response.writeWith(Mono.just(response.bufferFactory().wrap(bytes)));
  }

  public ResponseEntity<ApiMessages.Error> api(ApiException e) {
    ResponseEntity<ApiMessages.Error> answer =
        answer(e.status(), new ApiMessages.Error(e.code(), e.getMessage(), e.problems()));
    if (e.retryAfterSeconds() == null) {
      return answer;
    }
    return ResponseEntity.status(answer.getStatusCode())
        .headers(answer.getHeaders())
        .header(HttpHeaders.RETRY_AFTER, Integer.toString(e.retryAfterSeconds()))
        .body(answer.getBody());
  }

  public ResponseEntity<ApiMessages.Error> badInput(Exception e) {
    if (tooLarge(e)) {
      return payloadTooLarge(e);
    }
    logClientError(HttpStatus.BAD_REQUEST, e);
    if (!(e instanceof DecodingException) && !(e.getCause() instanceof DecodingException)) {
      // not the body: a missing part or header, a handshake that is none, …
      return answer(
          HttpStatus.BAD_REQUEST,
          new ApiMessages.Error(
              codeOf(HttpStatus.BAD_REQUEST), messageOf(HttpStatus.BAD_REQUEST), null));
    }
    io.tempera.template.RequestProblem problem = StrictJsonBodies.problemOf(e);
    if (problem != null) {
      return answer(
          HttpStatus.BAD_REQUEST,
          new ApiMessages.Error("INVALID_REQUEST", problem.message(), java.util.List.of(problem)));
    }
    return answer(
        HttpStatus.BAD_REQUEST,
        new ApiMessages.Error(
            "INVALID_BODY",
            "The request body could not be read: send a JSON object as documented",
            null));
  }

  public ResponseEntity<ApiMessages.Error> mediaType(UnsupportedMediaTypeStatusException e) {
    logClientError(HttpStatus.UNSUPPORTED_MEDIA_TYPE, e);
    return answer(
        HttpStatus.UNSUPPORTED_MEDIA_TYPE,
        new ApiMessages.Error(
            "UNSUPPORTED_MEDIA_TYPE",
            "This route does not take a body of that type; send it as "
                + mediaTypes(e.getSupportedMediaTypes()),
            null));
  }

  public ResponseEntity<ApiMessages.Error> method(MethodNotAllowedException e) {
    logClientError(HttpStatus.METHOD_NOT_ALLOWED, e);
    ResponseEntity<ApiMessages.Error> answer =
        answer(
            HttpStatus.METHOD_NOT_ALLOWED,
            new ApiMessages.Error(
                "METHOD_NOT_ALLOWED",
                "This route does not answer "
                    + e.getHttpMethod()
                    + "; it answers "
                    + e.getSupportedMethods().stream().map(Object::toString).sorted().toList(),
                null));
    return ResponseEntity.status(answer.getStatusCode())
        .headers(answer.getHeaders())
        .allow(e.getSupportedMethods().toArray(org.springframework.http.HttpMethod[]::new))
        .body(answer.getBody());
  }

  public ResponseEntity<ApiMessages.Error> notAcceptable(NotAcceptableStatusException e) {
    logClientError(HttpStatus.NOT_ACCEPTABLE, e);
    return answer(
        HttpStatus.NOT_ACCEPTABLE,
        new ApiMessages.Error(
            "NOT_ACCEPTABLE",
            "This route answers only "
                + mediaTypes(e.getSupportedMediaTypes())
                + "; ask for that in Accept (or send none)",
            null));
  }

  public ResponseEntity<ApiMessages.Error> payloadTooLarge(Exception e) {
    logClientError(HttpStatus.CONTENT_TOO_LARGE, e);
    return answer(
        HttpStatus.CONTENT_TOO_LARGE,
        new ApiMessages.Error(
            "PAYLOAD_TOO_LARGE", "The request body is larger than this route accepts", null));
  }

  /**
   * A logged line for every client disconnect would drown the log: a client that went away (a
   * closed tab, an abandoned download) is logged in one line, not as an error.
   */
  private static final org.springframework.web.util.DisconnectedClientHelper DISCONNECTS =
      new org.springframework.web.util.DisconnectedClientHelper(
          ApiErrorHandler.class.getName() + ".disconnects");

  public ResponseEntity<ApiMessages.Error> unexpected(Exception e) {
    if (DISCONNECTS.checkAndLogClientDisconnectedException(e)) {
      return null; // nobody is left to answer
    }
    if (tooLarge(e)) {
      return payloadTooLarge(e);
    }
    if (e instanceof ErrorResponse response && response.getStatusCode().is4xxClientError()) {
      // an unknown route (NoResourceFoundException), a missing parameter, ...: the client's doing
      HttpStatusCode status = response.getStatusCode();
      logClientError(status, e);
      return answer(status, new ApiMessages.Error(codeOf(status), messageOf(status), null));
    }
    log.error("unexpected error", e);
    return answer(
        HttpStatus.INTERNAL_SERVER_ERROR,
        new ApiMessages.Error(
            "INTERNAL", "Something went wrong on our side; the error was logged", null));
  }

  /** The stable code of a client error status that has no more specific handler. */
  static String codeOf(HttpStatusCode status) {
    return switch (status.value()) {
      case 400 -> "INVALID_REQUEST";
      case 404 -> "NOT_FOUND";
      case 405 -> "METHOD_NOT_ALLOWED";
      case 406 -> "NOT_ACCEPTABLE";
      case 413 -> "PAYLOAD_TOO_LARGE";
      case 414 -> "URI_TOO_LONG";
      case 415 -> "UNSUPPORTED_MEDIA_TYPE";
      case 431 -> "HEADERS_TOO_LARGE";
      default ->
          HttpStatus.resolve(status.value()) instanceof HttpStatus known
              ? known.name()
              : "CLIENT_ERROR";
    };
  }

  /** A sentence for a person, never the exception's own text (it may name classes or paths). */
  static String messageOf(HttpStatusCode status) {
    return switch (status.value()) {
      case 400 -> "The request could not be understood";
      case 404 -> "There is nothing here; the API's routes start with /api/ (see the README)";
      case 405 -> "This route does not answer that method";
      case 406 -> "This route cannot answer in the type the Accept header asks for";
      case 413 -> "The request body is larger than this route accepts";
      case 414 -> "The request's URI is too long";
      case 415 -> "This route does not take a body of that type";
      case 431 -> "The request's headers are too large";
      default -> "The request was refused";
    };
  }

  /**
   * The answer with its JSON type preset, so that it is written as JSON even to a client whose
   * Accept asked for something else (a 406 must not turn into an HTML page).
   */
  private static ResponseEntity<ApiMessages.Error> answer(
      HttpStatusCode status, ApiMessages.Error body) {
    return ResponseEntity.status(status).contentType(MediaType.APPLICATION_JSON).body(body);
  }

  private static boolean timedOut(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof io.netty.handler.timeout.TimeoutException) {
        return true;
      }
    }
    return false;
  }

  private static boolean tooLarge(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof DataBufferLimitException || t instanceof PayloadTooLargeException) {
        return true;
      }
      if (t.getCause() == t) {
        break;
      }
    }
    return false;
  }

  private static String mediaTypes(java.util.List<MediaType> types) {
    return types.isEmpty()
        ? "the documented type"
        : String.join(", ", types.stream().map(MediaType::toString).toList());
  }

  /** A client error: one line at WARN, without a stack trace. */
  private static void logClientError(HttpStatusCode status, Throwable e) {
    if (log.isWarnEnabled()) {
      log.warn("refused a request with {}: {}", status.value(), firstLine(e));
    }
  }

  private static String firstLine(Throwable e) {
    String text = e.getClass().getSimpleName() + ": " + e.getMessage();
    int newline = text.indexOf('\n');
    String line = newline < 0 ? text : text.substring(0, newline);
    return line.length() > 300 ? line.substring(0, 300) + "…" : line;
  }
}
