package io.tempera.history;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tempera.generation.GenerationError;
import io.tempera.generation.GenerationSearchAttributes;
import io.tempera.generation.GenerationState;
import io.tempera.generation.GenerationStatus;
import io.tempera.generation.OutputRef;
import io.tempera.generation.Phase;
import io.tempera.history.GenerationRecords.GenerationRecord;
import io.tempera.outputs.OutputStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The history's parts without a server: the visibility query a filter makes (and the values it
 * refuses to put in one), and the output store's records of ended generations.
 */
class GenerationHistoryPartsTest {

  @TempDir Path root;

  @Test
  void aFilterIsAVisibilityQueryOfTheTemperaSearchAttributes() {
    GenerationVisibility.Filter filter =
        GenerationVisibility.generations()
            .status("succeeded")
            .is("project", GenerationSearchAttributes.PROJECT, "demo")
            .is("node", GenerationSearchAttributes.NODE, "node-1")
            .since(Instant.parse("2026-12-01T00:00:00Z"))
            .filter();
    assertThat(filter.query())
        .isEqualTo(
            "WorkflowType = 'GenerationWorkflow' AND ExecutionStatus = 'Completed' AND"
                + " TemperaProject = 'demo' AND TemperaNode = 'node-1' AND StartTime >="
                + " '2026-12-01T00:00:00Z'");
    assertThat(GenerationVisibility.generations().status("OPEN").filter().query())
        .endsWith("ExecutionStatus = 'Running'");
  }

  @Test
  void aValueThatWouldChangeTheQueryIsRefusedByName() {
    assertThatThrownBy(() ->
            GenerationVisibility.generations()
                .is("node", GenerationSearchAttributes.NODE, "x' OR TemperaProject = 'other"))
        .isInstanceOfSatisfying(
            GenerationVisibility.InvalidCriterion.class,
            e -> assertThat(e.criterion()).isEqualTo("node"));
    assertThatThrownBy(() -> GenerationVisibility.generations().status("done"))
        .isInstanceOfSatisfying(
            GenerationVisibility.InvalidCriterion.class,
            e -> {
              assertThat(e.criterion()).isEqualTo("status");
              assertThat(e.getMessage()).contains("queued, running, succeeded");
            });
    assertThatThrownBy(() -> GenerationVisibility.generations().tier("gold"))
        .isInstanceOf(GenerationVisibility.InvalidCriterion.class);
  }

  @Test
  void aRecordIsFoundByItsIdInTheProjectTheIdWasMadeFor() throws Exception {
    OutputStore store = new OutputStore(root);
    GenerationRecords records = new GenerationRecords(store);
    String id = io.tempera.generation.GenerationWorkflow.workflowIdFor("alpha", "r1");
    GenerationState state = ended(id, "alpha");
    Instant started = Instant.parse("2026-12-07T10:00:00Z");
    records.write(new GenerationRecord(state, started, started.plusSeconds(3), false));
    // another project, and a record under a project the id was not made for: neither is found
    records.write(
        new GenerationRecord(
            ended(io.tempera.generation.GenerationWorkflow.workflowIdFor("beta", "r1"), "beta"),
            started,
            started,
            false));
    Files.createDirectories(root.resolve("gamma/history"));
    Files.writeString(
        root.resolve("gamma/history/gen-0000000000-r1.json"),
        "{\"state\":{\"projectId\":\"gamma\"}}");

    GenerationRecord found = records.find(id).orElseThrow();
    assertThat(found.state()).isEqualTo(state);
    assertThat(found.startedAt()).isEqualTo(started);
    assertThat(found.endedAt()).isEqualTo(started.plusSeconds(3));
    assertThat(found.outputsDeleted()).isFalse();
    assertThat(records.find("gen-0000000000-r1")).isEmpty();
    assertThat(records.find("gen-0123456789-nope")).isEmpty();
    assertThat(records.all("alpha").map(r -> r.state().generationId())).containsExactly(id);
    assertThat(records.all(null)).hasSize(2);

    // a newer record wins; one replaced by a symbolic link is not read
    records.write(found.withOutputsDeleted());
    assertThat(records.find(id).orElseThrow().outputsDeleted()).isTrue();
    Path file = root.resolve("alpha/history/" + id + ".json");
    Path elsewhere = Files.writeString(root.resolve("elsewhere.json"), Files.readString(file));
    Files.delete(file);
    Files.createSymbolicLink(file, elsewhere);
    assertThat(records.find(id)).isEmpty();
  }

  private static GenerationState ended(String id, String project) {
    return new GenerationState(
        id,
        GenerationStatus.FAILED,
        Phase.FAILED,
        0.5,
        null,
        "invert",
        "1.0.0",
        project,
        "node-1",
        "standard",
        "standard",
        List.of("a warning"),
        List.of(
            new OutputRef(
                "out.png", project + "/outputs/renders/node-1/out.png", "image/png", 12, 2, 3)),
        new GenerationError("BACKEND_ERROR", "it broke", "try again", "retry", true),
        List.of(),
        null,
        null,
        List.of(),
        java.util.Map.of("seed", 7));
  }
}
