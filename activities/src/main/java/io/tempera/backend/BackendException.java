package io.tempera.backend;

import java.util.Optional;

/**
 * A backend call that failed, by kind: the base of each backend client's own exception, which names
 * its kinds in its own enum. The kinds every backend shares are {@link BackendFault}s.
 */
public abstract class BackendException extends RuntimeException {

  private final Enum<?> kind;
  private final Integer httpStatus;

  protected BackendException(Enum<?> kind, String message, Integer httpStatus, Throwable cause) {
    super(message, cause);
    this.kind = kind;
    this.httpStatus = httpStatus;
  }

  /** The backend's own kind of this failure (subclasses narrow the type). */
  public Enum<?> kind() {
    return kind;
  }

  /** The HTTP status the server answered with, when the failure is one. */
  public Integer httpStatus() {
    return httpStatus;
  }

  /** The shared meaning of this failure; empty for a kind only this backend has. */
  public Optional<BackendFault> fault() {
    for (BackendFault fault : BackendFault.values()) {
      if (fault.name().equals(kind.name())) {
        return Optional.of(fault);
      }
    }
    return Optional.empty();
  }

  /** The backend's own kind of a shared fault (its enum has a constant of each fault's name). */
  protected static <K extends Enum<K>> K kindOf(Class<K> kinds, BackendFault fault) {
    return Enum.valueOf(kinds, fault.name());
  }

  /**
   * Checks, when a backend's exception class loads, that its kinds include every shared fault, so
   * that {@link #kindOf} can never fail at run time.
   */
  protected static <K extends Enum<K>> void requireFaults(Class<K> kinds) {
    for (BackendFault fault : BackendFault.values()) {
      if (java.util.Arrays.stream(kinds.getEnumConstants())
          .noneMatch(kind -> kind.name().equals(fault.name()))) {
        throw new ExceptionInInitializerError(kinds.getName() + " lacks the shared kind " + fault);
      }
    }
  }
}
