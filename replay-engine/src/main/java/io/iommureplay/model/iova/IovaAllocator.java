package io.iommureplay.model.iova;

import io.iommureplay.model.snapshot.SnapshotOutput;

/**
 * An IOVA allocator model for one domain: hands out ranges of pages (granules) and takes them back,
 * replayable on a recorded alloc/free sequence. Pfns are in granules; limits are inclusive (the DMA
 * mask in pfns, as alloc_iova_fast() takes it). {@code nowNs} is the recording's clock; models with
 * timed work run it before the call. Not thread-safe: one replay thread owns a domain and passes
 * the CPU of each recorded call.
 *
 * <p>Each implementation also has {@code static restore(SnapshotInput)} reading what {@link #save}
 * wrote.
 */
public interface IovaAllocator {
  /** What the allocation calls return when they found no space. */
  long FAILED = -1;

  /**
   * A range of {@code pages} ending at or below {@code limitPfn} on behalf of {@code cpu}: its
   * first pfn, or {@link #FAILED}. This is the last attempt of a caller (alloc_iova_fast() with
   * flush_rcache set: drain the caches and retry before failing).
   */
  long allocate(long pages, long limitPfn, int cpu, long nowNs);

  /**
   * An opportunistic attempt the caller will follow with a wider one (alloc_iova_fast() with
   * flush_rcache clear); the same as {@link #allocate} for models without caches.
   */
  default long tryAllocate(long pages, long limitPfn, int cpu, long nowNs) {
    return allocate(pages, limitPfn, cpu, nowNs);
  }

  /** Gives back the range at {@code pfn} of {@code pages} pages, freed on {@code cpu}. */
  void free(long pfn, long pages, int cpu, long nowNs);

  /** Marks {@code [pfnLo, pfnHi]} as never to be handed out. */
  void reserve(long pfnLo, long pfnHi);

  AllocatorStats stats();

  /** Free space from the first usable pfn up to {@code limitPfn} (inclusive). */
  FragmentationSample fragmentation(long limitPfn);

  /** Writes the complete state; the implementation's {@code restore} reads it back. */
  void save(SnapshotOutput out);
}
