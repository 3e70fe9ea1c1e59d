package io.tempera.api;

import io.tempera.quotas.Quotas;
import io.tempera.security.ApiKeyStore;
import java.util.Objects;
import java.util.TreeSet;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Mono;

/**
 * Each project's usage, for operators ({@code GET /api/admin/usage}): generations holding a GPU,
 * waiting, GPU-seconds this clock hour, and the project's limits; the pools' totals and the queue's
 * bound. Projects are those of the keys, of the quota settings, and any other the pools hold (by
 * the key in its generations' ids only).
 */
@RestController
@RequestMapping("/api/admin/usage")
public class AdminUsageController {

  private final Quotas quotas;
  private final ApiKeyStore keys;

  public AdminUsageController(Quotas quotas, ApiKeyStore keys) {
    this.quotas = quotas;
    this.keys = keys;
  }

  @GetMapping
  public Mono<Quotas.Report> usage() {
    return Blocking.call(() -> {
      TreeSet<String> projects = new TreeSet<>();
      keys.list().stream()
          .map(ApiKeyStore.StoredKey::projectId)
          .filter(Objects::nonNull)
          .forEach(projects::add);
      return quotas.report(projects);
    });
  }
}
