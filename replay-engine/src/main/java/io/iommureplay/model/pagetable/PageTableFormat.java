package io.iommureplay.model.pagetable;

/**
 * A multi-level IO page-table format, described by parameters rather than code: every format has
 * 512-entry tables of 8-byte entries, 9 IOVA bits a level above a 4 KiB page, and level numbers
 * counted from the bottom (level 1 is the table of 4 KiB entries, as in the event schema). What
 * differs is captured by the fields below, each defaulting to what Linux does (v6.15–6.18).
 *
 * <p>A page size that is not the entry size of any level (AMD v1's 8 KiB, 16 KiB, ...) is stored as
 * replicated entries one level down, as {@code iommu_v1_map_pages()} does with {@code
 * PM_LEVEL_ENC(7)} PTEs.
 *
 * @param name display name
 * @param levels levels of a new table
 * @param maxLevels levels the table may grow to (AMD {@code increase_address_space()}); equal to
 *     {@code levels} for formats that do not grow
 * @param addressBits IOVA bits the table can translate at {@code maxLevels} (at most 64)
 * @param pageSizes {@code pgsize_bitmap}: every supported page size as a set bit
 * @param leafConflict what mapping onto a present leaf does
 * @param superpagesClearFirst whether a large-page map first clears whatever its slots hold (VT-d
 *     {@code switch_to_super_page()}), overriding {@code leafConflict} for large pages
 * @param unmapRule how the driver's {@code unmap_pages} walks and what it reports
 * @param mapFreeTiming when tables that a map replaces by a large page are freed
 * @param unmapFreeTiming when tables that an unmap unlinks are freed
 */
public record PageTableFormat(
    String name,
    int levels,
    int maxLevels,
    int addressBits,
    long pageSizes,
    LeafConflict leafConflict,
    boolean superpagesClearFirst,
    UnmapRule unmapRule,
    TableFreeTiming mapFreeTiming,
    TableFreeTiming unmapFreeTiming) {

  /** Entries of a full table page (4 KiB of 8-byte entries). */
  static final int ENTRIES_PER_TABLE = 512;

  private static final long BASE_PAGE_SIZE = 4096;

  private static final int BASE_PAGE_SHIFT = 12;
  private static final int BITS_PER_LEVEL = 9;

  /** What a driver does when a map meets a present leaf entry. */
  public enum LeafConflict {
    /**
     * VT-d {@code __domain_mapping()}: the leaf is written by cmpxchg from zero; on failure it
     * warns "DMA PTE for vPFN ... already set", keeps the old entry and still reports success.
     */
    KEEP_OLD,
    /**
     * ARM {@code arm_lpae_init_pte()} / {@code __arm_lpae_map()}: -EEXIST, "We require an unmap
     * first".
     */
    FAIL,
    /**
     * AMD {@code iommu_v1_map_pages()} / {@code alloc_pte()}: the old entry is overwritten (a large
     * page met on the way down is cleared and replaced by a table), silently.
     */
    REPLACE
  }

  /** The driver's {@code unmap_pages} algorithm. */
  public enum UnmapRule {
    /**
     * VT-d {@code intel_iommu_unmap()}: round the size up to the page size found at the IOVA (a
     * superpage, or the level where the walk hits an empty entry), clear the range with {@code
     * domain_unmap()} / {@code dma_pte_clear_level()} and report the rounded size.
     */
    ROUND_UP_AND_CLEAR_RANGE,
    /**
     * ARM {@code __arm_lpae_unmap()}: walk to the level whose block size equals the page size; an
     * empty entry or a partial block returns 0.
     */
    EXACT_BLOCKS,
    /**
     * AMD {@code iommu_v1_unmap_pages()}: repeatedly {@code fetch_pte()} and clear whatever page
     * covers the IOVA, whole; stop at a missing directory entry.
     */
    WHOLE_PAGES_AT_IOVA
  }

  public PageTableFormat {
    if (levels < 1 || maxLevels < levels || maxLevels > 6) {
      throw new IllegalArgumentException("levels " + levels + ".." + maxLevels);
    }
    if (addressBits <= BASE_PAGE_SHIFT || addressBits > 64) {
      throw new IllegalArgumentException("addressBits " + addressBits);
    }
    if ((pageSizes & (BASE_PAGE_SIZE - 1)) != 0 || (pageSizes & BASE_PAGE_SIZE) == 0) {
      throw new IllegalArgumentException("page sizes must include 4 KiB and nothing smaller");
    }
    if (leafLevel(Long.highestOneBit(pageSizes)) > maxLevels) {
      throw new IllegalArgumentException("largest page size needs more levels");
    }
  }

  /**
   * VT-d second-stage tables (drivers/iommu/intel): {@code levels} 3, 4 or 5 give 39-, 48- or
   * 57-bit IOVAs. {@code superpageLevels} is {@code domain->iommu_superpage}: 0 for 4 KiB only
   * ({@code intel_iommu=sp_off}), 1 adds 2 MiB, 2 adds 1 GiB ({@code
   * domain_super_pgsize_bitmap()}).
   */
  public static PageTableFormat vtdSecondStage(int levels, int superpageLevels) {
    if (levels < 3 || levels > 5 || superpageLevels < 0 || superpageLevels > 2) {
      throw new IllegalArgumentException(
          "VT-d levels " + levels + ", superpage levels " + superpageLevels);
    }
    long pageSizes = BASE_PAGE_SIZE;
    for (int level = 2; level <= superpageLevels + 1; level++) {
      pageSizes |= entrySize(level);
    }
    return new PageTableFormat(
        "VT-d second stage, " + levels + " levels",
        levels,
        levels,
        levelShift(levels),
        pageSizes,
        LeafConflict.KEEP_OLD,
        true,
        UnmapRule.ROUND_UP_AND_CLEAR_RANGE,
        TableFreeTiming.IMMEDIATE,
        TableFreeTiming.AFTER_CALLER_FLUSH);
  }

  /** AMD v1 tables growing from 3 to 6 levels ({@code amd_iommu_hpt_level} = 6). */
  public static PageTableFormat amdV1() {
    return amdV1(6);
  }

  /**
   * AMD v1 host tables (drivers/iommu/amd/io_pgtable.c): 3 levels at first ({@code
   * v1_alloc_pgtable()}), grown one level at a time up to {@code maxLevels} ({@code
   * amd_iommu_hpt_level}) as IOVAs or page sizes need. Page sizes are {@code AMD_IOMMU_PGSIZES}:
   * every power of two from 4 KiB to 2^51 except 512 GiB, "not supported due to a hardware bug",
   * limited to the sizes {@code maxLevels} levels can hold. Map frees replaced tables only after
   * its own domain flush; unmap never frees tables.
   */
  public static PageTableFormat amdV1(int maxLevels) {
    if (maxLevels < 3 || maxLevels > 6) {
      throw new IllegalArgumentException("AMD v1 levels " + maxLevels);
    }
    long pageSizes =
        ((1L << Math.min(52, levelShift(maxLevels))) - 1) & ~(BASE_PAGE_SIZE - 1) & ~(1L << 39);
    return new PageTableFormat(
        "AMD v1, up to " + maxLevels + " levels",
        3,
        maxLevels,
        Math.min(64, levelShift(maxLevels)),
        pageSizes,
        LeafConflict.REPLACE,
        false,
        UnmapRule.WHOLE_PAGES_AT_IOVA,
        TableFreeTiming.AFTER_DRIVER_FLUSH,
        TableFreeTiming.AFTER_DRIVER_FLUSH);
  }

  /**
   * ARM LPAE stage-1 tables with a 4 KiB granule (drivers/iommu/io-pgtable-arm.c): levels =
   * ceil((ias - 12) / 9), the top table holding only the entries {@code ias} needs; pages of 4 KiB,
   * 2 MiB and 1 GiB ({@code arm_lpae_restrict_pgsizes()}). Tables are freed inside map and unmap
   * after the driver's own walk-cache flush ({@code io_pgtable_tlb_flush_walk()}).
   */
  public static PageTableFormat armLpae4k(int ias) {
    if (ias < 32 || ias > 48) {
      throw new IllegalArgumentException("ARM LPAE ias " + ias);
    }
    int levels = (ias - BASE_PAGE_SHIFT + BITS_PER_LEVEL - 1) / BITS_PER_LEVEL;
    long pageSizes = BASE_PAGE_SIZE | entrySize(2) | entrySize(3);
    return new PageTableFormat(
        "ARM LPAE 4K granule, ias " + ias,
        levels,
        levels,
        ias,
        pageSizes,
        LeafConflict.FAIL,
        false,
        UnmapRule.EXACT_BLOCKS,
        TableFreeTiming.AFTER_DRIVER_FLUSH,
        TableFreeTiming.AFTER_DRIVER_FLUSH);
  }

  /** The smallest supported page size: map and unmap arguments must be aligned to it. */
  public long minPageSize() {
    return Long.lowestOneBit(pageSizes);
  }

  /** log2 of the bytes one entry of a level-{@code level} table maps. */
  static int entryShift(int level) {
    return BASE_PAGE_SHIFT + BITS_PER_LEVEL * (level - 1);
  }

  /** Bytes one entry of a level-{@code level} table maps. */
  static long entrySize(int level) {
    return 1L << entryShift(level);
  }

  /** log2 of the IOVA bytes a full table of the given level spans (may exceed 64). */
  static int levelShift(int level) {
    return entryShift(level) + BITS_PER_LEVEL;
  }

  /**
   * The level whose entries hold a page of {@code pageSize}, replicated if it is not the entry
   * size.
   */
  static int leafLevel(long pageSize) {
    return (Long.numberOfTrailingZeros(pageSize) - BASE_PAGE_SHIFT) / BITS_PER_LEVEL + 1;
  }
}
