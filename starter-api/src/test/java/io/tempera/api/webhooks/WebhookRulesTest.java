package io.tempera.api.webhooks;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.any;
import static com.github.tomakehurst.wiremock.client.WireMock.anyRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.core.WireMockConfiguration;
import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationStatus;
import io.tempera.security.ApiKeyStore;
import io.tempera.webhooks.Webhook;
import io.tempera.webhooks.WebhookAddresses;
import io.tempera.webhooks.WebhookAttempt;
import io.tempera.webhooks.WebhookEvent;
import io.tempera.webhooks.WebhookPost;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The address rules, at submit and at delivery: internal addresses refused unless allowed, the
 * allow-list's names and wildcards, and a delivery to a host that now resolves to an internal
 * address refused without connecting (DNS rebinding).
 */
class WebhookRulesTest {

  @TempDir Path dir;

  private WebhookRules rules(boolean allowPrivate, List<String> hosts) {
    ApiKeyStore keys = new ApiKeyStore(dir.resolve("keys.json"));
    keys.allowWebhookHosts("p1", hosts);
    return new WebhookRules(
        keys, new WebhookProperties(allowPrivate, true, null, null, null, null, null));
  }

  private static String refusal(ThrowingCall call) {
    try {
      call.run();
      return null;
    } catch (WebhookRules.Refused refused) {
      return refused.code() + ": " + refused.getMessage();
    }
  }

  interface ThrowingCall {
    void run() throws WebhookRules.Refused;
  }

  @Test
  void internalAddressesAreRefusedUnlessAllowed() throws Exception {
    WebhookRules rules = rules(false, List.of("localhost", "10.1.2.3", "169.254.169.254"));
    assertThat(refusal(() -> rules.resolve("localhost")))
        .startsWith("WEBHOOK_ADDRESS_FORBIDDEN")
        .contains("loopback");
    assertThat(refusal(() -> rules.resolve("10.1.2.3"))).contains("a private address");
    assertThat(refusal(() -> rules.resolve("169.254.169.254"))).contains("metadata");
    assertThat(refusal(() -> rules.resolve("host.invalid"))).startsWith("WEBHOOK_UNRESOLVABLE");
    assertThat(refusal(() -> rules(true, List.of()).resolve("localhost"))).isNull();
  }

  @Test
  void everyInternalRangeIsForbiddenAndPublicAddressesAreNot() throws Exception {
    for (String internal :
        List.of(
            "127.0.0.1",
            "0.0.0.0",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::")) {
      assertThat(WebhookAddresses.forbidden(InetAddress.getByName(internal)))
          .as(internal)
          .isNotNull();
    }
    for (String external : List.of("93.184.216.34", "8.8.8.8", "2606:4700:4700::1111")) {
      assertThat(WebhookAddresses.forbidden(InetAddress.getByName(external))).as(external).isNull();
    }
  }

  @Test
  void theAllowListTakesNamesWildcardsAndAddresses() throws Exception {
    WebhookRules rules = rules(false, List.of("hooks.example.com", "*.example.org", "203.0.113.9"));
    assertThat(refusal(() -> rules.check("p1", "https://hooks.example.com/a?b=c"))).isNull();
    assertThat(refusal(() -> rules.check("p1", "https://HOOKS.example.com./a"))).isNull();
    assertThat(refusal(() -> rules.check("p1", "https://a.b.example.org/a"))).isNull();
    assertThat(refusal(() -> rules.check("p1", "https://203.0.113.9:8443/a"))).isNull();
    assertThat(refusal(() -> rules.check("p1", "https://example.org/a")))
        .startsWith("WEBHOOK_NOT_ALLOWED");
    assertThat(refusal(() -> rules.check("p1", "https://evilexample.org/a")))
        .startsWith("WEBHOOK_NOT_ALLOWED");
    assertThat(refusal(() -> rules.check("p1", "https://hooks.example.com.evil.net/")))
        .startsWith("WEBHOOK_NOT_ALLOWED");
    assertThat(refusal(() -> rules.check("other", "https://hooks.example.com/")))
        .startsWith("WEBHOOK_NOT_ALLOWED")
        .contains("may not send webhooks yet");
    assertThat(refusal(() -> rules.check("p1", "javascript:alert(1)")))
        .startsWith("WEBHOOK_INVALID_URL");
    assertThat(WebhookHosts.normalisePattern("*.10.0.0.1")).isNull();
    assertThat(WebhookHosts.normalisePattern("exa mple.com")).isNull();
  }

  @Test
  void httpIsRefusedUnlessAllowed() {
    ApiKeyStore keys = new ApiKeyStore(dir.resolve("keys.json"));
    keys.allowWebhookHosts("p1", List.of("hooks.example.com"));
    WebhookRules httpsOnly =
        new WebhookRules(keys, new WebhookProperties(false, false, null, null, null, null, null));
    assertThatThrownBy(() -> httpsOnly.check("p1", "http://hooks.example.com/"))
        .isInstanceOf(WebhookRules.Refused.class)
        .hasMessageContaining("https");
  }

  @Test
  void aDeliveryToAHostThatNowResolvesInternallyIsRefusedWithoutConnecting() throws Exception {
    WireMockServer receiver = new WireMockServer(WireMockConfiguration.options().dynamicPort());
    receiver.start();
    try {
      receiver.stubFor(any(anyUrl()).willReturn(aResponse().withStatus(200)));
      // allowed by name when submitted; at delivery the name resolves to a loopback address
      WebhookRules rules = rules(false, List.of("localhost"));
      WebhookActivitiesImpl activities =
          new WebhookActivitiesImpl(
              rules,
              new ApiKeyStore(dir.resolve("keys.json")),
              event -> "{}".getBytes(java.nio.charset.StandardCharsets.UTF_8),
              Clock.systemUTC());
      GenerationResult result =
          new GenerationResult(
              "gen-x",
              GenerationStatus.SUCCEEDED,
              1.0,
              "f",
              null,
              "p1",
              "n",
              null,
              null,
              List.of(),
              null,
              null,
              null,
              null,
              null,
              null,
              null);
      WebhookAttempt attempt =
          activities.post(
              new WebhookPost(
                  WebhookEvent.ofGeneration(
                      result,
                      new Webhook("http://localhost:" + receiver.port() + "/hook", null),
                      "2026-01-01T00:00:00Z"),
                  1));
      activities.close();

      assertThat(attempt.delivered()).isFalse();
      assertThat(attempt.retryable()).isFalse();
      assertThat(attempt.httpStatus()).isNull();
      assertThat(attempt.error()).contains("loopback");
      assertThat(receiver.findAll(anyRequestedFor(anyUrl()))).isEmpty();
      assertThat(Files.exists(dir.resolve("keys.json"))).isTrue();
    } finally {
      receiver.stop();
    }
  }
}
