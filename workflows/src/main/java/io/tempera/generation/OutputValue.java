package io.tempera.generation;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * A value a backend returned that is not a file (a text, a number, JSON, a label's confidences,
 * highlighted text), as the generation's result shows it beside its stored files.
 *
 * @param name the output's name: the template's name for it, else the backend's label for it, else
 *     {@code output_<position>}
 * @param kind what it is: {@code text}, {@code number}, {@code boolean}, {@code json}, {@code
 *     label} or {@code highlighted_text}
 * @param value the value as JSON (a string for text, a number, an object or list for the others)
 */
public record OutputValue(String name, String kind, JsonNode value) {}
