package io.tempera.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tempera.generation.FileInput;
import io.temporal.failure.ApplicationFailure;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A file input is never read through a symbolic link planted in the project (#16). */
class BackendInputFileTest {

  @TempDir Path tmp;

  static FileInput input(String path) {
    return new FileInput("image", path, "1", "image");
  }

  @Test
  void aRegularFileOfTheProjectIsItsInput() throws IOException {
    Path project = Files.createDirectories(tmp.resolve("root/p"));
    Path file = Files.createDirectories(project.resolve("uploads")).resolve("a.png");
    Files.writeString(file, "png");
    assertThat(Backend.inputFile(project, input("uploads/a.png"))).isEqualTo(file);
  }

  @Test
  void aLinkInUploadsOrALinkedFolderIsRefused() throws IOException {
    Path secret = Files.writeString(tmp.resolve("secret.png"), "secret");
    Path project = Files.createDirectories(tmp.resolve("root/p"));
    Path uploads = Files.createDirectories(project.resolve("uploads"));
    Files.createSymbolicLink(uploads.resolve("link.png"), secret);
    assertThatThrownBy(() -> Backend.inputFile(project, input("uploads/link.png")))
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            f -> {
              assertThat(f.getType()).isEqualTo("INVALID_REQUEST");
              assertThat(f.isNonRetryable()).isTrue();
            });

    Files.createSymbolicLink(project.resolve("outputs"), tmp);
    assertThat(Files.isRegularFile(project.resolve("outputs/secret.png"))).isTrue();
    assertThatThrownBy(() -> Backend.inputFile(project, input("outputs/secret.png")))
        .isInstanceOf(ApplicationFailure.class);

    Path linkedProject = tmp.resolve("root/q");
    Files.createSymbolicLink(linkedProject, project);
    Files.writeString(uploads.resolve("real.png"), "png");
    assertThatThrownBy(() -> Backend.inputFile(linkedProject, input("uploads/real.png")))
        .isInstanceOf(ApplicationFailure.class);
  }
}
