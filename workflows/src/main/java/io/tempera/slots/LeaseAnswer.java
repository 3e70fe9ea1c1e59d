package io.tempera.slots;

/**
 * The allocator's answer to a lease request: the lease when granted at once, else the holder's
 * place in the queue (1 = next). A waiting holder is signalled its lease and its new places later;
 * {@code seq} orders answers and signals, so an older place never overwrites a newer one. {@code
 * rejection} says why the request can never be granted (no GPU of the pool is big enough). {@code
 * pool} is the allocator's pool, where a release goes.
 */
public record LeaseAnswer(String pool, Lease lease, int queuePosition, long seq, String rejection) {

  public boolean granted() {
    return lease != null;
  }
}
