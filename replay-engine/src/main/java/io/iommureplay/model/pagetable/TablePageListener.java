package io.iommureplay.model.pagetable;

/**
 * Observes table pages coming and going, so detectors (table-install races, walk/free races, table
 * frees before their flush) need nothing from the page table's internals. Called synchronously from
 * {@link IoPageTable} methods, in the order things happen.
 */
public interface TablePageListener {

  /** Ignores everything. */
  TablePageListener NONE = new TablePageListener() {};

  /**
   * A table page was installed: into an empty parent slot by a map (the cmpxchg from zero of {@code
   * pfn_to_dma_pte()}, {@code arm_lpae_install_table()}, {@code alloc_pte()} — two CPUs racing for
   * one slot is the case to detect), as the root of a new table, or as a new root above the old one
   * (AMD {@code increase_address_space()}).
   */
  default void tableInstalled(TablePage table) {}

  /**
   * A table page was unlinked from its parent by an operation on {@code cpu}; it goes back to the
   * page allocator as {@code timing} says.
   */
  default void tableFreed(TablePage table, int cpu, TableFreeTiming timing) {}
}
