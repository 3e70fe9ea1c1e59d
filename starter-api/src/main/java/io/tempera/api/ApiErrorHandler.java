package io.tempera.api;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.core.codec.DecodingException;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.server.MethodNotAllowedException;
import org.springframework.web.server.ServerWebInputException;
import org.springframework.web.server.UnsupportedMediaTypeStatusException;

/** Every refusal is JSON {code, message}; nothing leaks a stack trace. */
@RestControllerAdvice
public class ApiErrorHandler {

  private static final Logger log = LoggerFactory.getLogger(ApiErrorHandler.class);

  @ExceptionHandler(ApiException.class)
  public ResponseEntity<ApiMessages.Error> api(ApiException e) {
    return ResponseEntity.status(e.status())
        .body(new ApiMessages.Error(e.code(), e.getMessage(), e.problems()));
  }

  @ExceptionHandler({ServerWebInputException.class, DecodingException.class})
  public ResponseEntity<ApiMessages.Error> badInput(Exception e) {
    return ResponseEntity.badRequest()
        .body(
            new ApiMessages.Error(
                "INVALID_BODY",
                "The request body could not be read: send a JSON object as documented",
                null));
  }

  @ExceptionHandler(UnsupportedMediaTypeStatusException.class)
  public ResponseEntity<ApiMessages.Error> mediaType(UnsupportedMediaTypeStatusException e) {
    return ResponseEntity.status(HttpStatus.UNSUPPORTED_MEDIA_TYPE)
        .body(
            new ApiMessages.Error(
                "UNSUPPORTED_MEDIA_TYPE", "Send the body as " + e.getSupportedMediaTypes(), null));
  }

  @ExceptionHandler(MethodNotAllowedException.class)
  public ResponseEntity<ApiMessages.Error> method(MethodNotAllowedException e) {
    return ResponseEntity.status(HttpStatus.METHOD_NOT_ALLOWED)
        .body(
            new ApiMessages.Error(
                "METHOD_NOT_ALLOWED", "Allowed methods: " + e.getSupportedMethods(), null));
  }

  /**
   * Logs a client that went away (a closed tab, an abandoned download) in one line, not as an
   * error.
   */
  private static final org.springframework.web.util.DisconnectedClientHelper DISCONNECTS =
      new org.springframework.web.util.DisconnectedClientHelper(
          ApiErrorHandler.class.getName() + ".disconnects");

  @ExceptionHandler(Exception.class)
  public ResponseEntity<ApiMessages.Error> unexpected(Exception e) {
    if (DISCONNECTS.checkAndLogClientDisconnectedException(e)) {
      return null; // nobody is left to answer
    }
    log.error("unexpected error", e);
    return ResponseEntity.status(HttpStatus.INTERNAL_SERVER_ERROR)
        .body(
            new ApiMessages.Error(
                "INTERNAL", "Something went wrong on our side; the error was logged", null));
  }
}
