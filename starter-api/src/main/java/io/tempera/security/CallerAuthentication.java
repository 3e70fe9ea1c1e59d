package io.tempera.security;

import java.util.List;
import org.springframework.security.authentication.AbstractAuthenticationToken;
import org.springframework.security.core.authority.SimpleGrantedAuthority;

/** An authenticated request: its {@link Caller} is the principal; roles ROLE_PROJECT/OPERATOR. */
public final class CallerAuthentication extends AbstractAuthenticationToken {

  private final Caller caller;

  public CallerAuthentication(Caller caller) {
    super(List.of(new SimpleGrantedAuthority("ROLE_" + caller.role().name())));
    this.caller = caller;
    setAuthenticated(true);
  }

  @Override
  public Caller getPrincipal() {
    return caller;
  }

  @Override
  public Object getCredentials() {
    return ""; // the key is never kept
  }

  @Override
  public String getName() {
    return caller.keyId();
  }
}
