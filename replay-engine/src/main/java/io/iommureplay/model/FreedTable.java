package io.iommureplay.model;

import io.iommureplay.model.pagetable.TablePage;
import io.iommureplay.model.snapshot.SnapshotInput;
import io.iommureplay.model.snapshot.SnapshotOutput;

/**
 * A page-table page an unmap or map unlinked, as its release needs it: which table it was and the
 * IOVA span it translated. Kept instead of the {@link TablePage} itself, which only the page table
 * can make, so held tables can be saved and restored.
 *
 * @param id the table's {@link TablePage#id()}
 * @param level 1 for a table of 4 KiB entries
 * @param spanStart first IOVA it translated
 * @param spanLast last IOVA it translated (unsigned)
 */
public record FreedTable(long id, int level, long spanStart, long spanLast) {
  static FreedTable of(TablePage table) {
    return new FreedTable(table.id(), table.level(), table.spanStart(), table.spanLast());
  }

  /** Bytes of IOVA it translated. */
  public long spanSize() {
    return spanLast - spanStart + 1;
  }

  void save(SnapshotOutput out) {
    out.writeVarLong(id).writeVarInt(level).writeLong(spanStart).writeLong(spanLast);
  }

  static FreedTable restore(SnapshotInput in) {
    return new FreedTable(in.readVarLong(), in.readVarInt(), in.readLong(), in.readLong());
  }
}
