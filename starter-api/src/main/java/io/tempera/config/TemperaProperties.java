package io.tempera.config;

import java.nio.file.Path;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * Tempera's own settings ({@code tempera.*}).
 *
 * @param outputRoot where projects' files live: {root}/{projectId}/outputs/renders/{nodeId}/
 * @param templatesDir the function templates folder (re-read when it changes)
 * @param templatesRecheckMillis how often, at most, the templates folder is checked for changes
 * @param maxUploadBytes the largest file accepted by the upload endpoint
 * @param searchAttributes start generations with the Tempera* search attributes (they must be
 *     registered on the Temporal server first)
 */
@ConfigurationProperties("tempera")
public record TemperaProperties(
    Path outputRoot,
    Path templatesDir,
    Long templatesRecheckMillis,
    Long maxUploadBytes,
    Boolean searchAttributes) {

  public TemperaProperties {
    outputRoot = outputRoot == null ? Path.of(".tempera/outputs") : outputRoot;
    templatesDir = templatesDir == null ? Path.of("templates") : templatesDir;
    templatesRecheckMillis = templatesRecheckMillis == null ? 1000L : templatesRecheckMillis;
    maxUploadBytes = maxUploadBytes == null ? 50L * 1024 * 1024 : maxUploadBytes;
    searchAttributes = searchAttributes != null && searchAttributes;
  }
}
