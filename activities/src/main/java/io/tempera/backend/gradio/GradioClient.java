package io.tempera.backend.gradio;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tempera.backend.BackendProgress;
import java.net.URI;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * The one door to a Gradio server (4.x, 5.x, 6.x). Speaks its wire protocol as Gradio's own clients
 * do: {@code GET /config} and {@code {prefix}/info} to discover it ({@link GradioDiscovery}),
 * {@code /login} when the app needs one ({@link GradioTransport}), {@code {prefix}/upload} for
 * input files and {@code {prefix}/file=} downloads ({@link GradioFiles}), the queue protocol
 * ({@code queue/join} and the session's {@code queue/data} event stream) for predictions — or the
 * two-step {@code {prefix}/call/{api}} protocol where the queue is not offered — and {@code
 * {prefix}/cancel} ({@link GradioProtocol}). Blocking (its callers are activity threads); every
 * reply is validated and every failure is a {@link GradioException} with a {@link
 * GradioException.Kind}.
 */
public final class GradioClient implements AutoCloseable {

  private final GradioTransport transport;
  private final GradioDiscovery discovery;
  private final GradioFiles files;
  private final GradioProtocol protocol;

  public GradioClient(URI baseUrl, GradioClientOptions options) {
    this.transport = new GradioTransport(baseUrl, options);
    this.discovery = new GradioDiscovery(transport);
    this.files = new GradioFiles(transport, discovery);
    this.protocol = new GradioProtocol(transport, discovery, files);
  }

  /** The app it talks to (never the login). */
  @Override
  public String toString() {
    return "GradioClient[" + baseUrl() + "]";
  }

  public URI baseUrl() {
    return transport.baseUrl();
  }

  /** The server's API, discovered once and kept (re-read with {@link #discover()}). */
  public GradioApi api() {
    return discovery.api();
  }

  /**
   * Forgets the discovered API, so the next call reads it again (after the server may have
   * restarted).
   */
  public void forget() {
    discovery.forget();
  }

  /** GET /config then GET {prefix}/info, logging in first when the app needs it. */
  public GradioApi discover() {
    return discovery.discover();
  }

  /**
   * The server's API as it is now: GET /config (which also tells whether it answers), and {@code
   * {prefix}/info} again when its functions changed since they were read (a redeploy).
   */
  public GradioApi current() {
    return discovery.current();
  }

  public GradioClientOptions options() {
    return transport.options();
  }

  /**
   * POST {prefix}/upload (multipart, field "files"), streaming the file. Returns its path on the
   * server.
   */
  public String upload(Path file) {
    return files.upload(file);
  }

  /**
   * The FileData value for an uploaded file, as Gradio 5.5+ requires (older versions accept it).
   */
  public ObjectNode fileData(String serverPath, String origName) {
    return GradioFiles.fileData(serverPath, origName);
  }

  /**
   * Runs one prediction to its end: the queue protocol when the server offers it, else /call.
   *
   * @param data the positional inputs, hidden ones (State) as null
   * @param sessionHash the queue session this prediction is joined to (fresh per attempt)
   * @param joined told the event id as soon as the server accepted the job (for cancelling)
   * @throws GradioException VALIDATION, EXECUTION, AUTH, BUSY, UNREACHABLE, SERVER_ERROR, TIMEOUT,
   *     PROTOCOL, or ABORTED when the calling thread was interrupted (the job is then cancelled)
   */
  public GradioResult predict(
      GradioApi.Endpoint endpoint,
      ArrayNode data,
      String sessionHash,
      Consumer<BackendProgress> progress,
      Consumer<String> joined) {
    return protocol.predict(endpoint, data, sessionHash, progress, joined);
  }

  /** POST {prefix}/cancel: removes a queued job, stops a running async one. */
  public void cancel(String sessionHash, int fnIndex, String eventId) {
    protocol.cancel(sessionHash, fnIndex, eventId);
  }

  /**
   * Streams an output file to {@code target} (never whole in memory), from its {@code url} when
   * that is on this server, else from {@code {prefix}/file=<path>}. Checks the size the server
   * reported.
   */
  public long download(GradioFile file, Path target) {
    return files.download(file, target);
  }

  /** The file's url when it points at this server, else {prefix}/file=path: never another host. */
  URI fileUri(GradioFile file) {
    return files.uri(file);
  }

  @Override
  public void close() {
    transport.close();
  }
}
