package io.iommureplay.model.pagetable;

/**
 * The model's page-table entry, one {@code long}. Not any hardware layout: it keeps what all three
 * formats need to translate and to report.
 *
 * <pre>
 *  63..58  log2 of the page size (leaf)       11..8  unused
 *  57..12  physical address of the page       7..2   IOMMU_READ/WRITE/CACHE/NOEXEC/MMIO/PRIV
 *                                             1      TABLE: the child table is in TablePage.children
 *                                             0      PRESENT
 * </pre>
 *
 * A replicated large page (AMD {@code PM_LEVEL_ENC(7)}) stores the same value in each replica: the
 * page's base address and its size, so any replica translates on its own, as hardware does.
 */
final class Pte {

  static final long EMPTY = 0;
  static final long TABLE = 0b11;

  private static final long PRESENT = 1;
  private static final long TABLE_BIT = 0b10;
  private static final int PROT_SHIFT = 2;
  private static final int PROT_MASK = 0x3f;
  private static final int SIZE_SHIFT = 58;
  private static final long ADDRESS_MASK = ((1L << SIZE_SHIFT) - 1) & ~0xfffL;

  private Pte() {}

  static long leaf(long paddr, long pageSize, int prot) {
    return PRESENT
        | paddr
        | (long) (prot & PROT_MASK) << PROT_SHIFT
        | (long) Long.numberOfTrailingZeros(pageSize) << SIZE_SHIFT;
  }

  static boolean isTable(long pte) {
    return (pte & TABLE_BIT) != 0;
  }

  static boolean isLeaf(long pte) {
    return pte != EMPTY && !isTable(pte);
  }

  /** Base physical address of the whole page. */
  static long paddr(long leaf) {
    return leaf & ADDRESS_MASK;
  }

  static long pageSize(long leaf) {
    return 1L << (leaf >>> SIZE_SHIFT);
  }

  static int prot(long leaf) {
    return (int) (leaf >>> PROT_SHIFT) & PROT_MASK;
  }
}
