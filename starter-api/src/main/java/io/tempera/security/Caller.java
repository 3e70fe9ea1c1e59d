package io.tempera.security;

/**
 * Who sent a request: an API key (or a JWT from an identity provider) and what it may act for.
 *
 * @param keyId the key's public id ({@code tpk_<id>_…}), or the token's subject
 * @param role a project key acts for its project only; an operator acts for every project and
 *     reaches the admin routes and the actuator
 * @param projectId the project a project key belongs to; null for an operator
 */
public record Caller(String keyId, Role role, String projectId) {

  /** What a key may do. */
  public enum Role {
    PROJECT,
    OPERATOR;

    /** The lower-case name used on the wire and in the keys file. */
    public String wire() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  public Caller {
    if (role == Role.PROJECT && (projectId == null || projectId.isBlank())) {
      throw new IllegalArgumentException("a project key needs its project");
    }
    if (role == Role.OPERATOR) {
      projectId = null;
    }
  }

  /** Whether this caller may read, start or cancel in {@code project}. */
  public boolean actsFor(String project) {
    return role == Role.OPERATOR || (project != null && project.equals(projectId));
  }

  public boolean operator() {
    return role == Role.OPERATOR;
  }

  @Override
  public String toString() {
    // never the secret; the key id is what operators see in `keys list`
    return "Caller["
        + keyId
        + ", "
        + role.wire()
        + (projectId == null ? "" : ", " + projectId)
        + "]";
  }
}
