package io.tempera.api;

import com.fasterxml.jackson.databind.JsonNode;
import io.tempera.outputs.OutputStore;
import io.tempera.security.ApiKeyStore;
import io.tempera.security.Caller;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.security.core.annotation.AuthenticationPrincipal;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * API keys, for operators ({@code /api/admin/keys}): list them (never a secret), make one (its key
 * is in the answer, once), revoke one. The {@code keys} command line does the same on the file.
 */
@RestController
@RequestMapping("/api/admin/keys")
public class AdminKeysController {

  private static final Logger log = LoggerFactory.getLogger(AdminKeysController.class);
  private static final Set<String> CREATE_FIELDS = Set.of("projectId", "role", "name");

  private final ApiKeyStore keys;

  public AdminKeysController(ApiKeyStore keys) {
    this.keys = keys;
  }

  /** A key as listed. */
  public record Key(
      String id, String role, String projectId, String name, String created, String revoked) {
    static Key of(ApiKeyStore.StoredKey k) {
      return new Key(k.id(), k.role(), k.projectId(), k.name(), k.created(), k.revoked());
    }
  }

  /** A key just made: {@code key} is the secret, shown this once. */
  public record Created(String id, String key, String role, String projectId, String name) {}

  @GetMapping
  public List<Key> list() {
    return keys.list().stream().map(Key::of).toList();
  }

  @PostMapping(consumes = MediaType.APPLICATION_JSON_VALUE)
  public ResponseEntity<Created> create(
      @RequestBody(required = false) byte[] body, @AuthenticationPrincipal Caller caller) {
    JsonNode json = StrictJson.parse(body == null ? new byte[0] : body, "INVALID_BODY");
    if (json == null || !json.isObject()) {
      throw ApiException.badRequest(
          "INVALID_BODY", "Send a JSON object: {projectId, name} or {role: \"operator\", name}");
    }
    var unknown = StrictJson.unknownFields(json, CREATE_FIELDS);
    if (!unknown.isEmpty()) {
      throw new ApiException(
          HttpStatus.BAD_REQUEST, "INVALID_REQUEST", StrictJson.summary(unknown), unknown);
    }
    String role = text(json, "role", "project");
    String project = text(json, "projectId", null);
    String name = text(json, "name", null);
    if (name != null && name.length() > 200) {
      throw ApiException.badRequest("INVALID_FIELD", "name is at most 200 characters");
    }
    Caller.Role value =
        switch (role) {
          case "project" -> Caller.Role.PROJECT;
          case "operator" -> Caller.Role.OPERATOR;
          default ->
              throw ApiException.badRequest("INVALID_FIELD", "role must be project or operator");
        };
    if (value == Caller.Role.PROJECT && (project == null || !OutputStore.safeSegment(project))) {
      throw ApiException.badRequest(
          "INVALID_FIELD",
          "A project key needs projectId: 1-128 letters, digits, '_', '-' or '.', starting with a"
              + " letter or digit");
    }
    if (value == Caller.Role.OPERATOR && project != null) {
      throw ApiException.badRequest(
          "INVALID_FIELD", "An operator key acts for every project: leave projectId out");
    }
    ApiKeyStore.Issued issued = keys.create(value, project, name);
    log.info(
        "key {} ({}{}) made by {}",
        issued.key().id(),
        role,
        project == null ? "" : " for " + project,
        caller.keyId());
    return ResponseEntity.status(HttpStatus.CREATED)
        .body(
            new Created(
                issued.key().id(),
                issued.secret(),
                issued.key().role(),
                issued.key().projectId(),
                issued.key().name()));
  }

  @DeleteMapping("/{id}")
  public ResponseEntity<Void> revoke(
      @PathVariable String id, @AuthenticationPrincipal Caller caller) {
    if (!id.matches("[A-Za-z0-9]{12}") || !keys.revoke(id)) {
      throw new ApiException(HttpStatus.NOT_FOUND, "NO_SUCH_KEY", "There is no key with this id");
    }
    log.info("key {} revoked by {}", id, caller.keyId());
    return ResponseEntity.noContent().build();
  }

  private static String text(JsonNode json, String field, String otherwise) {
    JsonNode node = json.get(field);
    if (node == null || node.isNull()) {
      return otherwise;
    }
    if (!node.isTextual()) {
      throw ApiException.badRequest("INVALID_FIELD", field + " must be a string");
    }
    return node.textValue();
  }
}
