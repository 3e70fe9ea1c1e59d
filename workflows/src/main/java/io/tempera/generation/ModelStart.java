package io.tempera.generation;

import io.tempera.models.ModelSpec;

/**
 * Start (or reuse) a model's container on the leased host for a generation, or let it go.
 *
 * @param holder the generation's workflow id
 * @param gpuIndex the GPU of the generation's lease (null: none)
 */
public record ModelStart(String holder, ModelSpec model, Integer gpuIndex) {}
