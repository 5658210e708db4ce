package io.iommureplay.model.pagetable;

import java.util.List;

/**
 * What {@link IoPageTable#map} did. Mapping over live mappings is never silent: it shows in {@code
 * keptOldBytes}, {@code replacedBytes} or status {@link OpStatus#EXISTS}.
 *
 * @param status OK, or why nothing of the call stayed mapped
 * @param keptOldBytes bytes where a live leaf stayed and the new one was not written (VT-d "DMA PTE
 *     for vPFN ... already set"; also a smaller page under a VT-d superpage, where the kernel would
 *     walk into the superpage's data page as if it were a table)
 * @param replacedBytes live mapped bytes this call silently removed or overwrote (AMD; VT-d
 *     superpages over smaller pages; ARM blocks over tables)
 * @param firstConflictIova lowest IOVA where the call met a live leaf, or {@link #NO_CONFLICT}
 * @param freedTables tables this call unlinked, replaced by large pages (and, after -EEXIST, by the
 *     core's unroll)
 * @param freeTiming when {@code freedTables} are freed; {@link TableFreeTiming#IMMEDIATE} is the
 *     VT-d hazard of tables freed before any flush
 */
public record MapResult(
    OpStatus status,
    long keptOldBytes,
    long replacedBytes,
    long firstConflictIova,
    List<TablePage> freedTables,
    TableFreeTiming freeTiming) {

  /** {@link #firstConflictIova()} when no live leaf was in the way (never a page-aligned IOVA). */
  public static final long NO_CONFLICT = -1;

  static MapResult rejected(OpStatus status, TableFreeTiming freeTiming) {
    return new MapResult(status, 0, 0, NO_CONFLICT, List.of(), freeTiming);
  }

  /** Whether the call met a live mapping in its range. */
  public boolean hitLiveMapping() {
    return firstConflictIova != NO_CONFLICT;
  }
}
