package io.tempera.worker;

import java.net.URI;
import java.util.List;

/**
 * Where this host's ComfyUI servers answer. Without a bean of this type the worker uses {@code
 * tempera.worker.comfyui-url(s)}; the embedded all-in-one supplies its in-process testkit server's
 * URL, so the worker itself knows nothing of test servers.
 */
@FunctionalInterface
public interface ComfyUiUrls {

  List<URI> urls();
}
