package io.tempera.api;

import io.temporal.client.WorkflowQueryException;
import io.temporal.client.WorkflowServiceException;
import java.util.concurrent.Callable;
import org.springframework.http.HttpStatus;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/** Runs a blocking Temporal call off the event loop and maps its failures to API errors. */
final class Blocking {

  private Blocking() {}

  static <T> Mono<T> call(Callable<T> call) {
    return Mono.fromCallable(call)
        .subscribeOn(Schedulers.boundedElastic())
        .onErrorMap(Blocking::translate);
  }

  static Throwable translate(Throwable e) {
    if (e instanceof ApiException) {
      return e;
    }
    if (GenerationService.isNotFound(e)) {
      return ApiException.notFound("There is no such generation");
    }
    if (e instanceof WorkflowQueryException || e instanceof WorkflowServiceException) {
      return new ApiException(
          HttpStatus.SERVICE_UNAVAILABLE,
          "ORCHESTRATOR_UNAVAILABLE",
          "The orchestrator did not answer; try again in a moment");
    }
    return e;
  }
}
