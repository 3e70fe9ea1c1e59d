package io.tempera.quotas;

import io.tempera.batch.BatchActivities;

/**
 * A batch's generations admitted one by one under the same quotas as the API's own starts ({@link
 * Quotas#admit}): served on {@code tempera-batches} by the API's processes, which hold the counts.
 */
public final class BatchAdmissions implements BatchActivities {

  private final Quotas quotas;

  public BatchAdmissions(Quotas quotas) {
    this.quotas = quotas;
  }

  @Override
  public io.tempera.batch.Admission admit(String projectId, String generationId) {
    // asked again for the same generation (the first, admitted at the batch's start; a retry):
    // its earlier admission does not count against it
    quotas.withdraw(generationId);
    Admission.Refusal refusal = quotas.admit(projectId, generationId);
    return refusal == null
        ? io.tempera.batch.Admission.yes()
        : io.tempera.batch.Admission.refused(
            refusal.code(), refusal.message(), refusal.retryAfterSeconds());
  }
}
