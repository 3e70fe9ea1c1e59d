package io.tempera.template;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * templates/template.schema.json says what the loader accepts, and every shipped template fits it.
 */
class TemplateSchemaTest {

  final ObjectMapper json = new ObjectMapper();

  static Set<String> keys(JsonNode object) {
    Set<String> keys = new HashSet<>();
    object.fieldNames().forEachRemaining(keys::add);
    return keys;
  }

  @Test
  void theSchemaAndTheLoaderAgreeOnTheKeys() throws IOException {
    JsonNode schema = json.readTree(Path.of("../templates/template.schema.json").toFile());
    assertThat(keys(schema.get("properties"))).isEqualTo(TemplateParser.TOP_LEVEL);
    assertThat(keys(schema.at("/$defs/parameter/properties")))
        .isEqualTo(TemplateParser.PARAMETER_KEYS);
    assertThat(keys(schema.at("/$defs/tierConfig/properties"))).isEqualTo(TemplateParser.TIER_KEYS);
    assertThat(keys(schema.at("/$defs/timeouts/properties")))
        .isEqualTo(TemplateParser.TIMEOUT_KEYS);
  }

  @Test
  void everyShippedTemplateUsesOnlyKeysTheSchemaDescribes() throws IOException {
    JsonNode schema = json.readTree(Path.of("../templates/template.schema.json").toFile());
    Set<String> mappingKeys = keys(schema.at("/$defs/mapping/properties"));
    List<Path> templates;
    try (Stream<Path> walk = Files.walk(Path.of("../templates"))) {
      templates = walk.filter(p -> p.getFileName().toString().equals("template.json")).toList();
    }
    assertThat(templates).hasSizeGreaterThanOrEqualTo(4);
    for (Path file : templates) {
      JsonNode template = json.readTree(file.toFile());
      assertThat(keys(template)).as(file.toString()).isSubsetOf(TemplateParser.TOP_LEVEL);
      template
          .path("parameters")
          .forEach(p ->
              assertThat(keys(p)).as(file.toString()).isSubsetOf(TemplateParser.PARAMETER_KEYS));
      template
          .path("parameter_mapping")
          .forEach(m -> assertThat(keys(m)).as(file.toString()).isSubsetOf(mappingKeys));
      assertThat(new TemplateParser(json).parse(file).problems()).as(file.toString()).isEmpty();
    }
  }
}
