package io.tempera.api;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.springframework.boot.reactor.netty.NettyServerCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.http.HttpStatus;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.publisher.Mono;
import reactor.netty.NettyPipeline;

/**
 * The security headers on every answer ({@code X-Content-Type-Options: nosniff}, {@code
 * X-Frame-Options: DENY} with CSP {@code frame-ancestors 'none'}, {@code Referrer-Policy:
 * no-referrer}), and a JSON body on the answers Reactor Netty gives by itself before any route is
 * reached (414 for a URI too long, 431 for headers too large, 400 for a request it cannot parse),
 * which it sends empty.
 */
@Configuration(proxyBeanMethods = false)
public class SecurityHeaders {

  /** The headers every answer carries. */
  static final Map<String, String> HEADERS =
      Map.of(
          "X-Content-Type-Options", "nosniff",
          "X-Frame-Options", "DENY",
          "Content-Security-Policy", "frame-ancestors 'none'",
          "Referrer-Policy", "no-referrer");

  @Bean
  @Order(Ordered.HIGHEST_PRECEDENCE)
  public WebFilter securityHeadersFilter() {
    return new HeadersFilter();
  }

  @Bean
  public NettyServerCustomizer jsonDecodingFailures(
      io.tempera.config.TemperaProperties properties) {
    long headDeadline = properties.limits().readTimeout().toMillis();
    return server ->
        server.doOnChannelInit((observer, channel, address) -> {
          if (channel.pipeline().get(NettyPipeline.HttpCodec) != null) {
            channel
                .pipeline()
                .addAfter(
                    NettyPipeline.HttpCodec, "tempera.decodingFailures", new DecodingFailures())
                .addAfter(
                    "tempera.decodingFailures",
                    "tempera.headDeadline",
                    new HeadDeadline(headDeadline));
          }
        });
  }

  /**
   * A slow client's defence the server's read timeout leaves open: a request's line and headers
   * must arrive in full within {@code tempera.limits.read-timeout} of the connection opening or of
   * the last answer on it, else the connection is closed. (Reactor Netty's read and request
   * timeouts watch a request once its head has arrived; a client sending its headers a byte a
   * second would hold the connection for hours.) A WebSocket, once upgraded, is not watched.
   */
  static final class HeadDeadline extends ChannelDuplexHandler {
    private static final org.slf4j.Logger log =
        org.slf4j.LoggerFactory.getLogger(HeadDeadline.class);
    private final long millis;
    private java.util.concurrent.ScheduledFuture<?> timer;
    private boolean upgraded;

    HeadDeadline(long millis) {
      this.millis = millis;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      if (ctx.channel().isActive()) {
        arm(ctx);
      }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
      arm(ctx);
      super.channelActive(ctx);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
      if (msg instanceof io.netty.handler.codec.http.HttpRequest) {
        disarm(); // the head arrived; the read and request timeouts take the body from here
      }
      super.channelRead(ctx, msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise)
        throws Exception {
      if (msg instanceof io.netty.handler.codec.http.HttpResponse response
          && response.status().code() == 101) {
        upgraded = true;
      }
      if (msg instanceof io.netty.handler.codec.http.LastHttpContent && !upgraded) {
        // the answer went out: the next request's head has as long
        promise.addListener(done -> arm(ctx));
      }
      super.write(ctx, msg, promise);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
      disarm();
      super.channelInactive(ctx);
    }

    private void arm(ChannelHandlerContext ctx) {
      disarm();
      if (upgraded || !ctx.channel().isActive()) {
        return;
      }
      timer =
          ctx.executor()
              .schedule(
                  () -> {
                    log.info(
                        "closing a connection whose request head did not arrive within {} ms",
                        millis);
                    ctx.close();
                  },
                  millis,
                  java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    private void disarm() {
      if (timer != null) {
        timer.cancel(false);
        timer = null;
      }
    }
  }

  /** Sets the headers on every exchange's response, whatever answers it. */
  static final class HeadersFilter implements WebFilter {
    @Override
    public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
      org.springframework.http.HttpHeaders headers = exchange.getResponse().getHeaders();
      HEADERS.forEach(headers::set);
      exchange
          .getResponse()
          .beforeCommit(() -> {
            // an error handler may have reset the headers on its way
            HEADERS.forEach((name, value) -> {
              if (!exchange.getResponse().getHeaders().containsHeader(name)) {
                exchange.getResponse().getHeaders().set(name, value);
              }
            });
            return Mono.empty();
          });
      return chain.filter(exchange);
    }
  }

  /**
   * Rewrites the empty answers Reactor Netty writes when it cannot decode a request (its request
   * line or headers too long, or malformed) into the API's JSON error body.
   */
  static final class DecodingFailures extends ChannelDuplexHandler {
    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise)
        throws Exception {
      if (msg instanceof FullHttpResponse response
          && response.status().code() >= 400
          && response.status().code() < 500
          && response.content().readableBytes() == 0
          && !response.headers().contains(HttpHeaderNames.CONTENT_TYPE)) {
        int status = response.status().code();
        String code = ApiErrorHandler.codeOf(HttpStatus.valueOf(status));
        String json =
            "{\"code\":\""
                + code
                + "\",\"message\":\""
                + ApiErrorHandler.messageOf(HttpStatus.valueOf(status))
                + "\"}";
        FullHttpResponse replaced =
            new DefaultFullHttpResponse(
                response.protocolVersion(),
                response.status(),
                Unpooled.copiedBuffer(json, StandardCharsets.UTF_8));
        HttpHeaders headers = replaced.headers();
        headers.set(response.headers());
        headers.set(HttpHeaderNames.CONTENT_TYPE, "application/json");
        headers.setInt(HttpHeaderNames.CONTENT_LENGTH, replaced.content().readableBytes());
        HEADERS.forEach(headers::set);
        response.release();
        super.write(ctx, replaced, promise);
        return;
      }
      super.write(ctx, msg, promise);
    }
  }
}
