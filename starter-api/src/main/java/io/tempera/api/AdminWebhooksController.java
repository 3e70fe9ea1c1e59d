package io.tempera.api;

import com.fasterxml.jackson.databind.JsonNode;
import io.tempera.api.webhooks.WebhookHosts;
import io.tempera.outputs.OutputStore;
import io.tempera.security.ApiKeyStore;
import io.tempera.security.Caller;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.security.core.annotation.AuthenticationPrincipal;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.PutMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * Projects' webhook settings, for operators ({@code /api/admin/webhooks}): list them (never a
 * secret), set a project's allow-list (its signing secret is made the first time and is in that
 * answer, once), rotate its signing secret (the new one is in the answer, once; the previous one
 * still signs for 24 hours). The {@code keys webhooks} command line does the same on the file.
 */
@RestController
@RequestMapping("/api/admin/webhooks")
public class AdminWebhooksController {

  private static final Logger log = LoggerFactory.getLogger(AdminWebhooksController.class);
  private static final Set<String> ALLOW_FIELDS = Set.of("allowedHosts");

  private final ApiKeyStore keys;

  public AdminWebhooksController(ApiKeyStore keys) {
    this.keys = keys;
  }

  /**
   * A project's settings as listed: its allowed hosts, when its secret was made, and until when the
   * secret before the last rotation still signs (null when none does).
   */
  public record ProjectWebhooks(
      String projectId, List<String> allowedHosts, String secretCreated, String previousUntil) {
    static ProjectWebhooks of(String projectId, ApiKeyStore.ProjectWebhooks settings) {
      return new ProjectWebhooks(
          projectId,
          settings.allowedHosts(),
          settings.secretCreated(),
          settings.previousSecret() == null ? null : settings.previousUntil());
    }
  }

  /**
   * The answer to a change: the settings now, and {@code secret} when one was just made (the only
   * time it is shown), else null.
   */
  public record Changed(ProjectWebhooks webhooks, String secret) {}

  @GetMapping
  public List<ProjectWebhooks> list() {
    return keys.webhooks().entrySet().stream()
        .map(e -> ProjectWebhooks.of(e.getKey(), e.getValue()))
        .toList();
  }

  @GetMapping("/{projectId}")
  public ProjectWebhooks get(@PathVariable String projectId) {
    checkProject(projectId);
    return keys.webhooks(projectId)
        .map(settings -> ProjectWebhooks.of(projectId, settings))
        .orElseThrow(() ->
            new ApiException(
                HttpStatus.NOT_FOUND,
                "NO_WEBHOOK_SETTINGS",
                "Project " + projectId + " has no webhook settings: set its allowed hosts first"));
  }

  @PutMapping(value = "/{projectId}", consumes = MediaType.APPLICATION_JSON_VALUE)
  public Changed allow(
      @PathVariable String projectId,
      @RequestBody(required = false) byte[] body,
      @AuthenticationPrincipal Caller caller) {
    checkProject(projectId);
    JsonNode json = StrictJson.parse(body == null ? new byte[0] : body, "INVALID_BODY");
    if (json == null || !json.isObject()) {
      throw ApiException.badRequest(
          "INVALID_BODY",
          "Send a JSON object: {\"allowedHosts\": [\"hooks.example.com\", \"*.example.org\"]}");
    }
    var unknown = StrictJson.unknownFields(json, ALLOW_FIELDS);
    if (!unknown.isEmpty()) {
      throw new ApiException(
          HttpStatus.BAD_REQUEST, "INVALID_REQUEST", StrictJson.summary(unknown), unknown);
    }
    JsonNode given = json.get("allowedHosts");
    if (given == null || !given.isArray()) {
      throw ApiException.badRequest(
          "INVALID_FIELD", "allowedHosts must be a list of hosts (an empty list allows none)");
    }
    if (given.size() > 100) {
      throw ApiException.badRequest("INVALID_FIELD", "allowedHosts holds at most 100 hosts");
    }
    List<String> hosts = new ArrayList<>();
    for (JsonNode node : given) {
      String host =
          node.isTextual() && node.textValue().length() <= 253
              ? WebhookHosts.normalisePattern(node.textValue().strip())
              : null;
      if (host == null) {
        throw ApiException.badRequest(
            "INVALID_HOST",
            (node.isTextual() ? "'" + shorten(node.textValue()) + "'" : "Every entry")
                + " is not a host: give a name (hooks.example.com), a wildcard for its"
                + " subdomains (*.example.com) or an IP address");
      }
      if (!hosts.contains(host)) {
        hosts.add(host);
      }
    }
    String secret = keys.allowWebhookHosts(projectId, hosts);
    log.info(
        "webhook hosts of project {} set to {} by {}{}",
        projectId,
        hosts,
        caller.keyId(),
        secret == null ? "" : " (its signing secret made)");
    return new Changed(get(projectId), secret);
  }

  @PostMapping("/{projectId}/rotate-secret")
  public Changed rotate(@PathVariable String projectId, @AuthenticationPrincipal Caller caller) {
    checkProject(projectId);
    String secret = keys.rotateWebhookSecret(projectId);
    log.info("webhook signing secret of project {} rotated by {}", projectId, caller.keyId());
    return new Changed(get(projectId), secret);
  }

  private static void checkProject(String projectId) {
    if (!OutputStore.safeSegment(projectId)) {
      throw ApiException.badRequest(
          "INVALID_FIELD",
          "A project id is 1-128 letters, digits, '_', '-' or '.', starting with a letter or"
              + " digit");
    }
  }

  private static String shorten(String text) {
    return text.length() > 80 ? text.substring(0, 80) + "…" : text;
  }
}
