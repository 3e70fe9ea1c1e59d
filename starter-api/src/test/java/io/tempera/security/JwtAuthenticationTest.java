package io.tempera.security;

import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import io.tempera.api.ApiApplication;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.interfaces.RSAPrivateKey;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * JWTs of an identity provider as bearer tokens (its public key configured): the project claim
 * scopes them as a project key would, a role makes an operator, anything unsigned, foreign or
 * expired is refused; API keys keep working beside them.
 */
@SpringBootTest(
    classes = ApiApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "spring.config.name=tempera-api",
      "spring.temporal.test-server.enabled=true",
      "tempera.templates-dir=../templates",
      "tempera.output-root=target/jwt-test-outputs"
    })
class JwtAuthenticationTest {

  static final KeyPair PROVIDER = rsa();
  static final KeyPair STRANGER = rsa();
  static final Path PUBLIC_KEY = pem(PROVIDER);

  final HttpClient http = HttpClient.newHttpClient();
  @LocalServerPort int port;
  @org.springframework.beans.factory.annotation.Autowired ApiKeyStore keys;

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) {
    registry.add(
        "spring.security.oauth2.resourceserver.jwt.public-key-location",
        () -> PUBLIC_KEY.toUri().toString());
  }

  @Test
  void aTokensProjectClaimScopesItLikeAProjectKey() throws Exception {
    String alpha = token(PROVIDER, Map.of("project", "alpha"), Instant.now().plusSeconds(600));
    assertThat(get("/api/functions", alpha).statusCode()).isEqualTo(200);
    assertThat(get("/api/admin/keys", alpha).statusCode()).isEqualTo(403);
    HttpResponse<String> elsewhere =
        post(
            alpha, "{\"functionId\":\"generate-pattern\",\"projectId\":\"beta\",\"nodeId\":\"n\"}");
    assertThat(elsewhere.statusCode()).isEqualTo(404);
    assertThat(elsewhere.body()).contains("UNKNOWN_PROJECT");
    HttpResponse<String> own =
        post(
            alpha,
            "{\"functionId\":\"generate-pattern\",\"nodeId\":\"n\",\"requestId\":\"jwt-1\"}");
    assertThat(own.statusCode()).as(own.body()).isEqualTo(202);
  }

  @Test
  void theOperatorRoleReachesTheAdminRoutes() throws Exception {
    String operator =
        token(
            PROVIDER,
            Map.of("roles", List.of("viewer", "tempera-operator")),
            Instant.now().plusSeconds(600));
    assertThat(get("/api/admin/keys", operator).statusCode()).isEqualTo(200);
    assertThat(get("/actuator/metrics", operator).statusCode()).isEqualTo(200);
  }

  @Test
  void foreignExpiredAndProjectlessTokensAreRefused() throws Exception {
    for (String bad :
        List.of(
            token(STRANGER, Map.of("project", "alpha"), Instant.now().plusSeconds(600)),
            token(PROVIDER, Map.of("project", "alpha"), Instant.now().minusSeconds(600)),
            token(PROVIDER, Map.of("project", "../alpha"), Instant.now().plusSeconds(600)),
            token(PROVIDER, Map.of("name", "nobody"), Instant.now().plusSeconds(600)),
            "eyJhbGciOiJub25lIn0.eyJwcm9qZWN0IjoiYWxwaGEifQ.")) {
      HttpResponse<String> answer = get("/api/functions", bad);
      assertThat(answer.statusCode()).as(bad).isEqualTo(401);
      assertThat(answer.body()).contains("UNAUTHENTICATED");
    }
  }

  @Test
  void apiKeysWorkBesideTokens() throws Exception {
    String key = keys.create(Caller.Role.PROJECT, "alpha", "beside jwt").secret();
    assertThat(get("/api/functions", key).statusCode()).isEqualTo(200);
  }

  // ------------------------------------------------------------------ helpers

  HttpResponse<String> get(String path, String token) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
            .header("Authorization", "Bearer " + token)
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<String> post(String token, String json) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/generations"))
            .header("Authorization", "Bearer " + token)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(json))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  static String token(KeyPair key, Map<String, Object> claims, Instant expires) throws Exception {
    JWTClaimsSet.Builder set =
        new JWTClaimsSet.Builder()
            .subject("someone@example.com")
            .issueTime(Date.from(expires.minusSeconds(1200)))
            .expirationTime(Date.from(expires));
    claims.forEach(set::claim);
    SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.RS256), set.build());
    jwt.sign(new RSASSASigner((RSAPrivateKey) key.getPrivate()));
    return jwt.serialize();
  }

  static KeyPair rsa() {
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
      generator.initialize(2048);
      return generator.generateKeyPair();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static Path pem(KeyPair key) {
    try {
      Path file = Files.createTempFile("provider", ".pem");
      Files.writeString(
          file,
          "-----BEGIN PUBLIC KEY-----\n"
              + Base64.getMimeEncoder(64, "\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII))
                  .encodeToString(key.getPublic().getEncoded())
              + "\n-----END PUBLIC KEY-----\n");
      return file;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
