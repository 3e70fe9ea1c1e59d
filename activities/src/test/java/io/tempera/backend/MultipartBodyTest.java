package io.tempera.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The multipart body is byte for byte what ComfyUI's /upload/image and Gradio's /upload were sent
 * before.
 */
class MultipartBodyTest {

  @Test
  void aFileAndFieldsInOrder(@TempDir Path dir) throws Exception {
    Path file = Files.writeString(dir.resolve("in.png"), "PNG");
    MultipartBody form =
        new MultipartBody()
            .file("image", "a\"b\r\nc.png", file)
            .field("type", "input")
            .field("overwrite", "false");
    String boundary = form.contentType().substring("multipart/form-data; boundary=".length());
    assertThat(boundary).startsWith("----tempera");
    assertThat(read(form.publisher()))
        .isEqualTo(
            "--"
                + boundary
                + "\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a_b__c.png\"\r\n"
                + "Content-Type: application/octet-stream\r\n\r\nPNG"
                + "\r\n--"
                + boundary
                + "\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\ninput"
                + "\r\n--"
                + boundary
                + "\r\nContent-Disposition: form-data; name=\"overwrite\"\r\n\r\nfalse"
                + "\r\n--"
                + boundary
                + "--\r\n");
  }

  @Test
  void aLoneFile(@TempDir Path dir) throws Exception {
    Path file = Files.writeString(dir.resolve("in.txt"), "hello");
    MultipartBody form = new MultipartBody().file("files", "in.txt", file);
    String boundary = form.contentType().substring("multipart/form-data; boundary=".length());
    assertThat(read(form.publisher()))
        .isEqualTo(
            "--"
                + boundary
                + "\r\nContent-Disposition: form-data; name=\"files\"; filename=\"in.txt\"\r\n"
                + "Content-Type: application/octet-stream\r\n\r\nhello\r\n--"
                + boundary
                + "--\r\n");
    assertThat(read(form.publisher()))
        .as("a publisher per send: the login retry sends it again")
        .contains("hello");
  }

  @Test
  void aMissingFileFailsWhenTheBodyIsMade(@TempDir Path dir) {
    MultipartBody form = new MultipartBody().file("files", "gone.png", dir.resolve("gone.png"));
    assertThatThrownBy(form::publisher).isInstanceOf(IOException.class);
  }

  @Test
  void aFileThatIsASymbolicLinkIsNotSent(@TempDir Path dir) throws Exception {
    Path secret = Files.writeString(dir.resolve("secret.txt"), "secret");
    Path link = Files.createSymbolicLink(dir.resolve("in.png"), secret);
    MultipartBody form = new MultipartBody().file("files", "in.png", link);
    assertThatThrownBy(form::publisher).isInstanceOf(IOException.class);

    Path file = Files.writeString(dir.resolve("real.png"), "hello");
    HttpRequest.BodyPublisher publisher =
        new MultipartBody().file("f", "real.png", file).publisher();
    assertThat(publisher.contentLength()).as("its length is known: no chunking").isPositive();
    Files.delete(file);
    Files.createSymbolicLink(file, secret); // replaced after the body was made
    assertThatThrownBy(() -> read(publisher)).hasStackTraceContaining("NOFOLLOW_LINKS");
  }

  static String read(HttpRequest.BodyPublisher publisher) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    CompletableFuture<Void> done = new CompletableFuture<>();
    publisher.subscribe(
        new Flow.Subscriber<>() {
          @Override
          public void onSubscribe(Flow.Subscription s) {
            s.request(Long.MAX_VALUE);
          }

          @Override
          public void onNext(ByteBuffer item) {
            byte[] bytes = new byte[item.remaining()];
            item.get(bytes);
            out.writeBytes(bytes);
          }

          @Override
          public void onError(Throwable t) {
            done.completeExceptionally(t);
          }

          @Override
          public void onComplete() {
            done.complete(null);
          }
        });
    done.get(10, TimeUnit.SECONDS);
    return out.toString(StandardCharsets.UTF_8);
  }
}
