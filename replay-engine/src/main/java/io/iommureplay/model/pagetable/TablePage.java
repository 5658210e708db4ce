package io.iommureplay.model.pagetable;

/**
 * One page-table page. Its identity and position are public: level, the IOVA span it translates,
 * the parent slot it fills and the CPU whose map installed it. Its entries are the page table's
 * business alone: one {@code long} per entry (see {@link Pte}) and, above level 1, the child table
 * behind each table entry.
 */
public final class TablePage {

  /** {@link #installCpu()} of a table created with its domain rather than by a map. */
  public static final int NO_CPU = -1;

  private final long id;
  private final int level;
  private final long spanStart;
  private final int spanShift;
  private final int installCpu;
  private long parentId = -1;
  private int parentIndex = -1;

  final long[] entries;
  final TablePage[] children;

  TablePage(long id, int level, long spanStart, int spanShift, int entryCount, int installCpu) {
    this.id = id;
    this.level = level;
    this.spanStart = spanStart;
    this.spanShift = spanShift;
    this.installCpu = installCpu;
    this.entries = new long[entryCount];
    this.children = level > 1 ? new TablePage[entryCount] : null;
  }

  /** Unique among all table pages one {@link IoPageTable} ever had, in allocation order. */
  public long id() {
    return id;
  }

  /** 1 for the table of 4 KiB entries, counting up to the root. */
  public int level() {
    return level;
  }

  /** First IOVA the table translates. */
  public long spanStart() {
    return spanStart;
  }

  /** Last IOVA the table translates (unsigned; all ones for a root covering 64 bits). */
  public long spanLast() {
    return spanShift >= 64 ? -1L : spanStart + (1L << spanShift) - 1;
  }

  /** log2 of the bytes of IOVA the table spans (64 for a root covering the whole space). */
  public int spanShift() {
    return spanShift;
  }

  /** {@link #id()} of the parent table, -1 for the root. */
  public long parentId() {
    return parentId;
  }

  /** Index of the parent entry this table fills, -1 for the root. */
  public int parentIndex() {
    return parentIndex;
  }

  /** The CPU whose map installed the table, or {@link #NO_CPU}. */
  public int installCpu() {
    return installCpu;
  }

  public boolean isRoot() {
    return parentIndex < 0;
  }

  void linkTo(TablePage parent, int index) {
    parentId = parent.id;
    parentIndex = index;
  }

  @Override
  public String toString() {
    return "TablePage[id=%d, level=%d, span=0x%x..0x%x, parent=%d/%d, cpu=%d]"
        .formatted(id, level, spanStart, spanLast(), parentId, parentIndex, installCpu);
  }
}
