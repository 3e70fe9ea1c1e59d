package io.tempera.worker;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.security.config.web.server.ServerHttpSecurity;
import org.springframework.security.web.server.SecurityWebFilterChain;

/**
 * A worker host's HTTP port serves its actuator alone — health, readiness, {@code
 * /actuator/prometheus} — without keys, to Prometheus and the orchestrator's probes on the internal
 * network (it must never be published); anything else is refused. Without this chain Spring Boot's
 * default security would ask for a generated password, and Prometheus could not scrape the host.
 * Only the worker application scans this package: the embedded default keeps the API's security,
 * its actuator behind an operator key.
 */
@Configuration(proxyBeanMethods = false)
public class WorkerActuatorSecurity {

  @Bean
  public SecurityWebFilterChain workerActuatorOnly(ServerHttpSecurity http) {
    return http.csrf(ServerHttpSecurity.CsrfSpec::disable)
        .httpBasic(ServerHttpSecurity.HttpBasicSpec::disable)
        .formLogin(ServerHttpSecurity.FormLoginSpec::disable)
        .authorizeExchange(
            e -> e.pathMatchers("/actuator", "/actuator/**").permitAll().anyExchange().denyAll())
        .build();
  }
}
