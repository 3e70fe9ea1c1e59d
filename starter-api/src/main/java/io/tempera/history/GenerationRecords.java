package io.tempera.history;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.tempera.generation.GenerationState;
import io.tempera.generation.GenerationWorkflow;
import io.tempera.outputs.OutputStore;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The output store's record of each ended generation: its final state, when it started and ended,
 * in {@code {root}/{projectId}/history/{generationId}.json}, beside the project's outputs. Written
 * when the API first reads the generation's end, so it stays readable (state, outputs, previews)
 * when Temporal no longer has the workflow: after a restart of the in-process test server, or past
 * the namespace's retention.
 */
public final class GenerationRecords {

  private static final Logger log = LoggerFactory.getLogger(GenerationRecords.class);

  /** The folder under a project holding the records. */
  public static final String FOLDER = "history";

  private static final String SUFFIX = ".json";

  private final OutputStore outputs;
  private final ObjectMapper json =
      new ObjectMapper()
          .findAndRegisterModules()
          .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
          .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  public GenerationRecords(OutputStore outputs) {
    this.outputs = outputs;
  }

  /**
   * An ended generation as recorded.
   *
   * @param outputsDeleted whether its outputs were deleted (DELETE /api/generations/{id}/outputs)
   */
  public record GenerationRecord(
      GenerationState state, Instant startedAt, Instant endedAt, boolean outputsDeleted) {

    public GenerationRecord withOutputsDeleted() {
      return new GenerationRecord(state, startedAt, endedAt, true);
    }
  }

  /** Records an ended generation (again: the newer record wins); never fails the caller. */
  public void write(GenerationRecord record) {
    String project = record.state().projectId();
    String id = record.state().generationId();
    if (!OutputStore.safeSegment(project) || !OutputStore.safeSegment(id)) {
      return;
    }
    try {
      Path dir = outputs.directoryForWriting(outputs.projectDir(project).resolve(FOLDER));
      Path file = dir.resolve(id + SUFFIX);
      Path partial = Files.createTempFile(dir, "." + id, ".partial");
      try {
        json.writeValue(partial.toFile(), record);
        Files.move(
            partial, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } finally {
        Files.deleteIfExists(partial);
      }
    } catch (IOException | RuntimeException e) {
      log.warn("could not record generation {} in the output store: {}", id, e.toString());
    }
  }

  /** The record of generation {@code id}, found in the project its id was made for. */
  public Optional<GenerationRecord> find(String id) {
    if (!OutputStore.safeSegment(id)) {
      return Optional.empty();
    }
    for (String project : projectsOf(id)) {
      Optional<GenerationRecord> found = read(recordFile(project, id), project);
      if (found.isPresent()) {
        return found;
      }
    }
    return Optional.empty();
  }

  /** Every record of {@code project} (null: of every project), in no particular order. */
  public Stream<GenerationRecord> all(String project) {
    List<String> projects = project == null ? projects() : List.of(project);
    List<GenerationRecord> found = new ArrayList<>();
    for (String p : projects) {
      if (!OutputStore.safeSegment(p)) {
        continue;
      }
      Path dir = outputs.projectDir(p).resolve(FOLDER);
      if (!Files.isDirectory(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
        continue;
      }
      try (Stream<Path> files = Files.list(dir)) {
        files
            .filter(f -> f.getFileName().toString().endsWith(SUFFIX))
            .map(f -> read(f, p))
            .flatMap(Optional::stream)
            .forEach(found::add);
      } catch (IOException e) {
        log.warn("could not read the records in {}: {}", dir, e.toString());
      }
    }
    return found.stream();
  }

  private Path recordFile(String project, String id) {
    return outputs.projectDir(project).resolve(FOLDER).resolve(id + SUFFIX);
  }

  /**
   * The record in {@code file} of {@code project}: only a well-formed one, of a generation of that
   * project named as the file is (anything else there is not a record of this store).
   */
  private Optional<GenerationRecord> read(Path file, String project) {
    if (!outputs.isRegularFile(file)) {
      return Optional.empty();
    }
    try (InputStream in = outputs.openRead(file)) {
      GenerationRecord record = json.readValue(in, GenerationRecord.class);
      String name = file.getFileName().toString();
      if (record == null
          || record.state() == null
          || record.state().status() == null
          || record.state().phase() == null
          || !project.equals(record.state().projectId())
          || !name.equals(record.state().generationId() + SUFFIX)) {
        log.warn("{} is not a generation record of project {}: skipped", file, project);
        return Optional.empty();
      }
      return Optional.of(record);
    } catch (IOException | RuntimeException e) {
      log.warn("unreadable generation record {}: {}", file, e.toString());
      return Optional.empty();
    }
  }

  /** The projects in the output store whose generation ids start as {@code id} does. */
  private List<String> projectsOf(String id) {
    return projects().stream()
        .filter(p -> id.startsWith(GenerationWorkflow.workflowIdFor(p, "")))
        .toList();
  }

  /** The project folders in the output store. */
  private List<String> projects() {
    try (Stream<Path> dirs = Files.list(outputs.root())) {
      return dirs.filter(d -> Files.isDirectory(d, java.nio.file.LinkOption.NOFOLLOW_LINKS))
          .map(d -> d.getFileName().toString())
          .filter(OutputStore::safeSegment)
          .toList();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list the output store " + outputs.root(), e);
    }
  }
}
