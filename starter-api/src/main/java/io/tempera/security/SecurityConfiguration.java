package io.tempera.security;

import io.tempera.api.ApiErrorHandler;
import io.tempera.config.TemperaProperties;
import io.tempera.outputs.OutputStore;
import java.net.URI;
import java.time.Clock;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.annotation.Order;
import org.springframework.http.HttpMethod;
import org.springframework.http.HttpStatus;
import org.springframework.security.authentication.BadCredentialsException;
import org.springframework.security.authentication.ReactiveAuthenticationManager;
import org.springframework.security.authentication.ReactiveAuthenticationManagerResolver;
import org.springframework.security.config.annotation.web.reactive.EnableWebFluxSecurity;
import org.springframework.security.config.web.server.ServerHttpSecurity;
import org.springframework.security.oauth2.jwt.Jwt;
import org.springframework.security.oauth2.jwt.ReactiveJwtDecoder;
import org.springframework.security.oauth2.server.resource.authentication.BearerTokenAuthenticationToken;
import org.springframework.security.oauth2.server.resource.authentication.JwtReactiveAuthenticationManager;
import org.springframework.security.web.server.SecurityWebFilterChain;
import org.springframework.security.web.server.context.NoOpServerSecurityContextRepository;
import org.springframework.web.cors.CorsConfiguration;
import org.springframework.web.cors.reactive.UrlBasedCorsConfigurationSource;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import reactor.core.publisher.Mono;

/**
 * Who may call what. Every {@code /api/**} route needs a bearer token: an API key ({@code tpk_…},
 * {@link ApiKeyStore}) or, when {@code spring.security.oauth2.resourceserver.jwt.*} is set, a JWT
 * of the identity provider with a project claim. {@code /api/admin/**} and the actuator (but its
 * health) need an operator. Output, preview and upload downloads also take a signed URL ({@link
 * SignedUrls}); the canvas WebSocket authenticates in its first message (or its upgrade request).
 * Requests from a page of another origin are refused unless {@code
 * tempera.security.allowed-origins} lists it. Project scoping (another project's generation is a
 * 404) is the routes' own work.
 */
@Configuration(proxyBeanMethods = false)
@EnableWebFluxSecurity
public class SecurityConfiguration {

  private static final Logger log = LoggerFactory.getLogger(SecurityConfiguration.class);

  /** The routes reachable with a signed URL instead of a key (checked by the route). */
  static final String[] SIGNED_ROUTES = {
    "/api/generations/*/outputs/*", "/api/generations/*/preview", "/api/projects/*/uploads/*"
  };

  @Bean
  public ApiKeyStore apiKeyStore(TemperaProperties properties) {
    return new ApiKeyStore(properties.security().keysFile());
  }

  @Bean
  public ConnectionLimits connectionLimits(TemperaProperties properties) {
    return new ConnectionLimits(properties.limits().maxConnectionsPerKey());
  }

  /**
   * Slow clients: a request whose bytes pause longer than {@code tempera.limits.read-timeout}, or
   * that takes longer than {@code tempera.limits.request-timeout} to arrive in full, is answered
   * 408 and its connection closed (a keep-alive connection waiting for its next request is closed
   * after {@code server.netty.idle-timeout}).
   */
  @Bean
  public org.springframework.boot.reactor.netty.NettyServerCustomizer requestTimeouts(
      TemperaProperties properties) {
    return server ->
        server
            .readTimeout(properties.limits().readTimeout())
            .requestTimeout(properties.limits().requestTimeout());
  }

  @Bean
  public SignedUrls signedUrls(ApiKeyStore keys, TemperaProperties properties) {
    byte[][] secret = {null};
    return new SignedUrls(
        () -> {
          if (secret[0] == null) {
            secret[0] = keys.urlSigningKey();
          }
          return secret[0];
        },
        properties.security().signedUrlTtl(),
        Clock.systemUTC());
  }

  /**
   * Bearer tokens: API keys from the store, anything else a JWT when a decoder is configured. A
   * bean, so that Spring Boot makes no in-memory user with a generated password.
   */
  @Bean
  public ReactiveAuthenticationManagerResolver<ServerWebExchange> bearerAuthentication(
      ApiKeyStore keys,
      ObjectProvider<ReactiveJwtDecoder> jwtDecoder,
      TemperaProperties properties) {
    ReactiveJwtDecoder decoder = jwtDecoder.getIfAvailable();
    ReactiveAuthenticationManager jwt = null;
    if (decoder != null) {
      JwtReactiveAuthenticationManager manager = new JwtReactiveAuthenticationManager(decoder);
      manager.setJwtAuthenticationConverter(
          token -> Mono.just(new CallerAuthentication(callerOf(token, properties.security()))));
      jwt = manager;
    }
    ReactiveAuthenticationManager jwtManager = jwt;
    ReactiveAuthenticationManager manager =
        authentication -> {
          if (!(authentication instanceof BearerTokenAuthenticationToken bearer)) {
            return Mono.empty();
          }
          String token = bearer.getToken();
          if (token.startsWith("tpk_") || jwtManager == null) {
            return Mono.justOrEmpty(keys.authenticate(token))
                .<org.springframework.security.core.Authentication>map(CallerAuthentication::new)
                .switchIfEmpty(
                    Mono.error(
                        new BadCredentialsException(
                            "The API key is not valid (unknown, revoked or mistyped)")));
          }
          return jwtManager.authenticate(authentication);
        };
    return exchange -> Mono.just(manager);
  }

  /** The caller a JWT stands for: an operator by role, else the project of its project claim. */
  static Caller callerOf(Jwt token, TemperaProperties.Security settings) {
    Object roles = token.getClaims().get(settings.jwtRolesClaim());
    boolean operator =
        roles instanceof java.util.Collection<?> list
            ? list.contains(settings.jwtOperatorRole())
            : settings.jwtOperatorRole().equals(roles);
    String subject = token.getSubject() == null ? "jwt" : "jwt:" + token.getSubject();
    if (operator) {
      return new Caller(subject, Caller.Role.OPERATOR, null);
    }
    Object project = token.getClaims().get(settings.jwtProjectClaim());
    if (!(project instanceof String p) || !OutputStore.safeSegment(p)) {
      throw new BadCredentialsException(
          "The token names no project (claim '" + settings.jwtProjectClaim() + "')");
    }
    return new Caller(subject, Caller.Role.PROJECT, p);
  }

  @Bean
  public SecurityWebFilterChain securityWebFilterChain(
      ServerHttpSecurity http,
      ReactiveAuthenticationManagerResolver<ServerWebExchange> bearer,
      TemperaProperties properties) {
    return http.csrf(ServerHttpSecurity.CsrfSpec::disable)
        .httpBasic(ServerHttpSecurity.HttpBasicSpec::disable)
        .formLogin(ServerHttpSecurity.FormLoginSpec::disable)
        .logout(ServerHttpSecurity.LogoutSpec::disable)
        .anonymous(a -> {})
        .requestCache(c ->
            c.requestCache(
                org.springframework.security.web.server.savedrequest.NoOpServerRequestCache
                    .getInstance()))
        .securityContextRepository(NoOpServerSecurityContextRepository.getInstance())
        // SecurityHeaders sets the headers every answer carries; Spring's would also turn the
        // outputs' immutable caching into no-store
        .headers(ServerHttpSecurity.HeaderSpec::disable)
        .cors(c -> c.configurationSource(cors(properties.security().allowedOrigins())))
        .authorizeExchange(e ->
            e.pathMatchers(HttpMethod.OPTIONS, "/api/**")
                .permitAll()
                .pathMatchers("/actuator/health", "/actuator/health/**")
                .permitAll()
                .pathMatchers("/actuator", "/actuator/**")
                .hasRole("OPERATOR")
                .pathMatchers("/api/admin/**", "/api/functions/problems")
                .hasRole("OPERATOR")
                .pathMatchers(HttpMethod.GET, SIGNED_ROUTES)
                .permitAll()
                .pathMatchers("/api/**")
                .authenticated()
                // the canvas socket authenticates in its first message; the page and its assets
                // are public; any other path is a 404
                .anyExchange()
                .permitAll())
        .oauth2ResourceServer(o ->
            o.authenticationManagerResolver(bearer)
                .authenticationEntryPoint(SecurityConfiguration::unauthenticated)
                .accessDeniedHandler((exchange, denied) -> forbidden(exchange)))
        .exceptionHandling(x ->
            x.authenticationEntryPoint(SecurityConfiguration::unauthenticated)
                .accessDeniedHandler((exchange, denied) -> forbidden(exchange)))
        .build();
  }

  private static Mono<Void> unauthenticated(
      ServerWebExchange exchange, org.springframework.security.core.AuthenticationException e) {
    boolean presented =
        exchange.getRequest().getHeaders().getFirst("Authorization") != null
            || e instanceof BadCredentialsException;
    exchange.getResponse().getHeaders().set("WWW-Authenticate", "Bearer");
    return ApiErrorHandler.writeError(
        exchange,
        HttpStatus.UNAUTHORIZED,
        "UNAUTHENTICATED",
        presented
            ? "The API key is not valid (unknown, revoked or mistyped); send a current key as"
                + " 'Authorization: Bearer <key>'"
            : "This request needs an API key: send it as 'Authorization: Bearer <key>'");
  }

  private static Mono<Void> forbidden(ServerWebExchange exchange) {
    return ApiErrorHandler.writeError(
        exchange, HttpStatus.FORBIDDEN, "FORBIDDEN", "This needs an operator key");
  }

  private static UrlBasedCorsConfigurationSource cors(List<String> origins) {
    CorsConfiguration config = new CorsConfiguration();
    config.setAllowedOrigins(origins);
    config.setAllowedMethods(List.of("GET", "POST", "DELETE"));
    config.setAllowedHeaders(
        List.of("Authorization", "Content-Type", "Last-Event-ID", "X-Namespace"));
    config.setExposedHeaders(List.of("Location"));
    config.setAllowCredentials(false);
    config.setMaxAge(600L);
    UrlBasedCorsConfigurationSource source = new UrlBasedCorsConfigurationSource();
    source.registerCorsConfiguration("/api/**", config);
    return source;
  }

  /**
   * Refuses, before anything else reads it, a request sent by a page of another origin than this
   * server's that {@code tempera.security.allowed-origins} does not list (a WebSocket upgrade
   * included). Requests without an Origin (not from a browser page) pass.
   */
  @Bean
  @Order(-200)
  public WebFilter originFilter(TemperaProperties properties) {
    Set<String> allowed = Set.copyOf(properties.security().allowedOrigins());
    return (exchange, chain) -> {
      String origin = exchange.getRequest().getHeaders().getOrigin();
      if (origin == null
          || allowed.contains(origin)
          || sameOrigin(origin, exchange.getRequest().getURI())) {
        return chain.filter(exchange);
      }
      log.info(
          "refused a request to {} from a page of another origin", exchange.getRequest().getPath());
      return ApiErrorHandler.writeError(
          exchange,
          HttpStatus.FORBIDDEN,
          "ORIGIN_NOT_ALLOWED",
          "This server does not take requests from pages of that origin"
              + " (tempera.security.allowed-origins lists the ones it takes)");
    };
  }

  /**
   * The embedded default's first start ({@code tempera.security.development-key}): when the keys
   * file holds no active key, makes one for project {@code demo} and prints it, with a link that
   * hands it to the page, once. Never logged.
   */
  @Bean
  public org.springframework.context.ApplicationListener<
          org.springframework.boot.web.server.context.WebServerInitializedEvent>
      developmentKey(ApiKeyStore keys, TemperaProperties properties) {
    return event -> {
      if (!properties.security().developmentKey() || !keys.noActiveKey()) {
        return;
      }
      ApiKeyStore.Issued issued = keys.create(Caller.Role.PROJECT, "demo", "development key");
      int port = event.getWebServer().getPort();
      System.out.println(
          "\n[tempera] A development key for project 'demo' was made (shown this once; the keys"
              + " file keeps only its hash):\n\n    "
              + issued.secret()
              + "\n\n[tempera] Open http://localhost:"
              + port
              + "/#key="
              + issued.secret()
              + " to use it in the page, or send it as 'Authorization: Bearer <key>'.\n"
              + "[tempera] More keys: ./tempera keys create --project <projectId>\n");
    };
  }

  static boolean sameOrigin(String origin, URI request) {
    try {
      URI o = URI.create(origin);
      if (o.getScheme() == null || o.getHost() == null || request.getHost() == null) {
        return false;
      }
      String scheme = request.getScheme() == null ? "http" : request.getScheme();
      String expected = scheme.replace("ws", "http");
      return o.getScheme().equalsIgnoreCase(expected)
          && o.getHost().equalsIgnoreCase(request.getHost())
          && port(o) == port(request);
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  private static int port(URI uri) {
    if (uri.getPort() != -1) {
      return uri.getPort();
    }
    String scheme = uri.getScheme() == null ? "http" : uri.getScheme().toLowerCase();
    return scheme.equals("https") || scheme.equals("wss") ? 443 : 80;
  }
}
