package io.iommureplay.model.pagetable;

import java.util.ArrayList;
import java.util.List;

/** Shared helpers of the page-table tests. */
final class PageTableTesting {

  static final int RW = IoPageTable.IOMMU_READ | IoPageTable.IOMMU_WRITE;
  static final long K4 = 0x1000;
  static final long M2 = 0x20_0000;
  static final long G1 = 0x4000_0000;

  private PageTableTesting() {}

  record Mapping(long iova, long paddr, long size, int prot) {
    static Mapping rw(long iova, long paddr, long size) {
      return new Mapping(iova, paddr, size, RW);
    }
  }

  static List<Mapping> mappings(IoPageTable table) {
    List<Mapping> all = new ArrayList<>();
    table.forEachMapping(
        (iova, paddr, size, prot) -> all.add(new Mapping(iova, paddr, size, prot)));
    return all;
  }

  record Freed(TablePage table, int cpu, TableFreeTiming timing) {}

  /** Keeps every table-page event, and checks installs minus frees against the live count. */
  static final class RecordingListener implements TablePageListener {
    final List<TablePage> installed = new ArrayList<>();
    final List<Freed> freed = new ArrayList<>();

    @Override
    public void tableInstalled(TablePage table) {
      installed.add(table);
    }

    @Override
    public void tableFreed(TablePage table, int cpu, TableFreeTiming timing) {
      freed.add(new Freed(table, cpu, timing));
    }

    int live() {
      return installed.size() - freed.size();
    }
  }
}
