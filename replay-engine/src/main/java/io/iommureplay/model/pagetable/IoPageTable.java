package io.iommureplay.model.pagetable;

import static io.iommureplay.model.pagetable.PageTableFormat.ENTRIES_PER_TABLE;
import static io.iommureplay.model.pagetable.PageTableFormat.entryShift;
import static io.iommureplay.model.pagetable.PageTableFormat.entrySize;
import static io.iommureplay.model.pagetable.Pte.EMPTY;

import io.iommureplay.model.pagetable.PageTableFormat.LeafConflict;
import io.iommureplay.model.pagetable.UnmapResult.PartialLargePage;
import io.iommureplay.model.snapshot.SnapshotFormatException;
import io.iommureplay.model.snapshot.SnapshotInput;
import io.iommureplay.model.snapshot.SnapshotOutput;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * One IOMMU domain's IO page table in a given {@link PageTableFormat}, changed the way Linux's
 * {@code iommu_map()} / {@code iommu_unmap()} and the format's driver change it.
 *
 * <p>Each table page is a {@code long[]} of entries; a live 4 KiB mapping costs 8 bytes plus its
 * share of a table page's header. Not thread-safe: one replay thread owns a domain, and the CPU of
 * each recorded call is passed in.
 */
public final class IoPageTable {

  /** {@code IOMMU_READ} of include/linux/iommu.h. */
  public static final int IOMMU_READ = 1;

  /** {@code IOMMU_WRITE} of include/linux/iommu.h. */
  public static final int IOMMU_WRITE = 2;

  /** What {@link #translate(long)} returns for an IOVA without a mapping. */
  public static final long NOT_MAPPED = -1;

  /** Physical addresses the model accepts: below 2^52, the widest output of the three formats. */
  private static final long PHYSICAL_LIMIT = 1L << 52;

  private final PageTableFormat format;
  private final TablePageListener listener;
  private TablePage root;
  private long nextTableId;
  private long liveMappedBytes;
  private int liveTablePages;

  // State of the map or unmap call in progress.
  private final ArrayList<TablePage> freedTables = new ArrayList<>();
  private int cpu;
  private TableFreeTiming freeTiming;
  private long rangeStart;
  private long rangeLast;
  private long droppedBytes;
  private long droppedOutsideRange;
  private long keptOldBytes;
  private long firstConflict;
  private PartialLargePage partialLargePage;

  // State of mappedBytes().
  private long overlapStart;
  private long overlapLast;
  private long overlapBytes;
  private final MappingVisitor overlapCounter =
      (iova, paddr, size, prot) -> overlapBytes += overlap(iova, size, overlapStart, overlapLast);

  /** A table with an empty root, as a new domain has; the root is reported installed at once. */
  public IoPageTable(PageTableFormat format, TablePageListener listener) {
    this(format, listener, true);
  }

  private IoPageTable(PageTableFormat format, TablePageListener listener, boolean withRoot) {
    this.format = format;
    this.listener = listener;
    if (withRoot) {
      this.root = newTable(format.levels(), 0, TablePage.NO_CPU);
      listener.tableInstalled(root);
    }
  }

  // ---- snapshot ----

  /**
   * Writes the whole table: table ids, tree shape, installing CPUs and every entry. A leaf is
   * written as its slot distance from the previous entry, whether its size and permissions are the
   * previous leaf's, and its physical address as a distance from where the previous leaf ended, so
   * a run of 4 KiB mappings of consecutive pages costs 3 bytes each. The format is not written: the
   * domain that owns the table knows it.
   */
  public void save(SnapshotOutput out) {
    out.writeVarLong(nextTableId).writeVarLong(liveMappedBytes).writeVarInt(liveTablePages);
    saveTable(root, out, new LeafRun());
  }

  /** The previous leaf written or read: the next one is encoded relative to it. */
  private static final class LeafRun {
    long nextPaddr;
    int sizeAndProt = -1;
  }

  /**
   * Tag of an entry: 0 a table, 1 a leaf of the previous leaf's size and prot, else 2 + size/prot.
   */
  private static void saveTable(TablePage table, SnapshotOutput out, LeafRun run) {
    out.writeVarLong(table.id())
        .writeVarInt(table.level())
        .writeLong(table.spanStart())
        .writeVarInt(table.spanShift())
        .writeSignedVarLong(table.installCpu());
    int used = 0;
    for (long pte : table.entries) {
      if (pte != EMPTY) used++;
    }
    out.writeVarInt(used);
    int lastSlot = -1;
    for (int slot = 0; slot < table.entries.length; slot++) {
      long pte = table.entries[slot];
      if (pte == EMPTY) continue;
      out.writeVarInt(slot - lastSlot - 1);
      lastSlot = slot;
      if (Pte.isTable(pte)) {
        out.writeVarInt(0);
        saveTable(table.children[slot], out, run);
      } else {
        long paddr = Pte.paddr(pte);
        int sizeAndProt = Long.numberOfTrailingZeros(Pte.pageSize(pte)) << 6 | Pte.prot(pte);
        out.writeVarInt(sizeAndProt == run.sizeAndProt ? 1 : 2 + sizeAndProt);
        out.writeSignedVarLong((paddr - run.nextPaddr) >> 12);
        run.sizeAndProt = sizeAndProt;
        run.nextPaddr = paddr + Pte.pageSize(pte);
      }
    }
  }

  /**
   * Reads a table {@link #save} wrote, for a domain of {@code format}; the listener hears of no
   * installs (the tables existed before).
   *
   * @throws SnapshotFormatException when the bytes do not describe a table of this format
   */
  public static IoPageTable restore(
      SnapshotInput in, PageTableFormat format, TablePageListener listener) {
    IoPageTable table = new IoPageTable(format, listener, false);
    table.nextTableId = in.readVarLong();
    table.liveMappedBytes = in.readVarLong();
    table.liveTablePages = in.readVarInt();
    table.root = restoreTable(in, table, new LeafRun());
    return table;
  }

  private static TablePage restoreTable(SnapshotInput in, IoPageTable owner, LeafRun run) {
    long id = in.readVarLong();
    int level = in.readVarInt();
    long spanStart = in.readLong();
    int spanShift = in.readVarInt();
    int installCpu = (int) in.readSignedVarLong();
    if (level < 1
        || level > owner.format.maxLevels()
        || spanShift > 64
        || spanShift < entryShift(level)) {
      throw new SnapshotFormatException(
          "table "
              + id
              + ": level "
              + level
              + ", span shift "
              + spanShift
              + " do not fit "
              + owner.format.name());
    }
    TablePage table =
        new TablePage(
            id, level, spanStart, spanShift, 1 << (spanShift - entryShift(level)), installCpu);
    int used = in.readCount();
    int slot = -1;
    for (int i = 0; i < used; i++) {
      slot += in.readVarInt() + 1;
      if (slot >= table.entries.length)
        throw new SnapshotFormatException("table " + id + ": slot " + slot);
      int tag = in.readVarInt();
      if (tag == 0) {
        if (level == 1)
          throw new SnapshotFormatException("table " + id + ": a table below level 1");
        TablePage child = restoreTable(in, owner, run);
        child.linkTo(table, slot);
        table.entries[slot] = Pte.TABLE;
        table.children[slot] = child;
      } else {
        if (tag > 1) run.sizeAndProt = tag - 2;
        if (run.sizeAndProt < 0)
          throw new SnapshotFormatException("table " + id + ": leaf without a size");
        long pageSize = 1L << (run.sizeAndProt >>> 6);
        long paddr = run.nextPaddr + (in.readSignedVarLong() << 12);
        table.entries[slot] = Pte.leaf(paddr, pageSize, run.sizeAndProt & 0x3f);
        run.nextPaddr = paddr + pageSize;
      }
    }
    return table;
  }

  /**
   * {@code iommu_map()}: maps {@code [iova, iova + size)} to {@code paddr} on behalf of {@code
   * cpu}, split into page sizes by {@link PageSizeSplit} exactly as {@code __iommu_map()} does,
   * each piece written as the format's driver writes it.
   *
   * @param prot {@link #IOMMU_READ}, {@link #IOMMU_WRITE} and the other IOMMU_* bits
   */
  public MapResult map(long iova, long paddr, long size, int prot, int cpu) {
    // __iommu_map(): iova, paddr and size aligned to the smallest page size, else -EINVAL.
    // A size of 0 maps nothing and calls no driver, so the driver's checks do not apply.
    OpStatus refusal =
        ((iova | paddr | size) & (format.minPageSize() - 1)) != 0
            ? OpStatus.UNALIGNED
            : size == 0 ? OpStatus.OK : driverRefusal(iova, paddr, size, prot);
    if (refusal != OpStatus.OK) {
      return MapResult.rejected(refusal, format.mapFreeTiming());
    }
    beginCall(iova, size, cpu, format.mapFreeTiming());
    long done = 0;
    while (done != size) {
      long pageSize =
          PageSizeSplit.pageSize(format.pageSizes(), iova + done, paddr + done, size - done);
      long count =
          PageSizeSplit.pageCount(
              format.pageSizes(), iova + done, paddr + done, size - done, pageSize);
      long mapped = mapPages(iova + done, paddr + done, pageSize, count, prot);
      if (mapped < 0) {
        // __iommu_map(): "unroll mapping in case something went wrong" with iommu_unmap().
        long replaced = droppedBytes;
        unmapRange(iova, done);
        droppedBytes = replaced;
        return mapResult(OpStatus.EXISTS);
      }
      done += mapped;
    }
    return mapResult(OpStatus.OK);
  }

  /**
   * {@code iommu_unmap()} on behalf of {@code cpu}: {@code __iommu_unmap()} cuts the range with
   * {@link PageSizeSplit} and calls the driver's {@code unmap_pages} until it has unmapped {@code
   * size} bytes or more, or the driver returns 0.
   */
  public UnmapResult unmap(long iova, long size, int cpu) {
    // __iommu_unmap(): iova and size aligned to the smallest page size, else it returns 0.
    if (((iova | size) & (format.minPageSize() - 1)) != 0) {
      return UnmapResult.unaligned(format.unmapFreeTiming());
    }
    long notMapped = size - mappedBytes(iova, size);
    beginCall(iova, size, cpu, format.unmapFreeTiming());
    long unmapped = unmapRange(iova, size);
    return new UnmapResult(
        OpStatus.OK,
        unmapped,
        droppedBytes,
        droppedOutsideRange,
        notMapped,
        partialLargePage,
        freedTablesOfCall(),
        freeTiming);
  }

  /**
   * The physical address the hardware would reach for {@code iova}, or {@link #NOT_MAPPED}: the
   * entry found by the walk is decoded on its own, as the IOMMU decodes it.
   */
  public long translate(long iova) {
    long leaf = leafAt(iova);
    return leaf == EMPTY ? NOT_MAPPED : Pte.paddr(leaf) + (iova & (Pte.pageSize(leaf) - 1));
  }

  /** The IOMMU_* protection bits of the mapping of {@code iova}, 0 if it has none. */
  public int permissions(long iova) {
    long leaf = leafAt(iova);
    return leaf == EMPTY ? 0 : Pte.prot(leaf);
  }

  /** Live mapped bytes within {@code [iova, iova + size)}. */
  public long mappedBytes(long iova, long size) {
    if (size == 0) {
      return 0;
    }
    overlapStart = iova;
    overlapLast = Long.compareUnsigned(iova + size - 1, iova) < 0 ? -1L : iova + size - 1;
    overlapBytes = 0;
    visit(root, overlapStart, overlapLast, overlapCounter);
    return overlapBytes;
  }

  /** Every live mapping in IOVA order; a large page is one call. */
  public void forEachMapping(MappingVisitor visitor) {
    visit(root, 0, -1L, visitor);
  }

  /**
   * Every live mapping that overlaps {@code [iova, iova + size)}, in IOVA order; a large page is
   * one call, reported whole even where it reaches outside the range.
   */
  public void forEachMapping(long iova, long size, MappingVisitor visitor) {
    if (size == 0) {
      return;
    }
    long last = Long.compareUnsigned(iova + size - 1, iova) < 0 ? -1L : iova + size - 1;
    visit(root, iova, last, visitor);
  }

  /** Every table page in the tree, parents before children, in IOVA order. */
  public void forEachTablePage(Consumer<TablePage> action) {
    forEachTablePage(root, action);
  }

  public long liveMappedBytes() {
    return liveMappedBytes;
  }

  /** Table pages in the tree, the root included. */
  public int liveTablePages() {
    return liveTablePages;
  }

  /** Levels of the tree now (AMD v1 grows). */
  public int levels() {
    return root.level();
  }

  public PageTableFormat format() {
    return format;
  }

  // ---- map ----

  /**
   * What the driver refuses before touching the table: the address width (VT-d {@code
   * intel_iommu_map()} -EFAULT, ARM {@code arm_lpae_map_pages()} -ERANGE) and a mapping with
   * neither read nor write ({@code __domain_mapping()}, {@code arm_lpae_map_pages()}, {@code
   * iommu_v1_map_pages()}: -EINVAL).
   */
  private OpStatus driverRefusal(long iova, long paddr, long size, int prot) {
    long last = iova + size - 1;
    long physicalLast = paddr + size - 1;
    boolean iovaFits =
        Long.compareUnsigned(last, iova) >= 0
            && (format.addressBits() == 64 || last >>> format.addressBits() == 0);
    boolean paddrFits =
        Long.compareUnsigned(physicalLast, paddr) >= 0
            && Long.compareUnsigned(physicalLast, PHYSICAL_LIMIT) < 0;
    if (!iovaFits || !paddrFits) {
      return OpStatus.OUT_OF_RANGE;
    }
    return (prot & (IOMMU_READ | IOMMU_WRITE)) == 0 ? OpStatus.NO_PERMISSION : OpStatus.OK;
  }

  /**
   * One driver {@code map_pages} call, cut at the end of the leaf table as {@code __arm_lpae_map()}
   * cuts it ({@code __iommu_map()} calls again for the rest). Returns the bytes mapped, or -1 for
   * -EEXIST. Like the drivers, it first makes room in every slot, then writes the leaves.
   */
  private long mapPages(long iova, long paddr, long pageSize, long count, int prot) {
    int leafLevel = PageTableFormat.leafLevel(pageSize);
    int replicas = (int) (pageSize >>> entryShift(leafLevel));
    growToHold(iova + pageSize - 1, leafLevel);
    TablePage table = walkToTable(iova, leafLevel);
    if (table == null) {
      if (format.leafConflict() == LeafConflict.FAIL) {
        return -1;
      }
      // KEEP_OLD: a VT-d superpage covers the whole leaf table this batch would have used.
      long slotsToTableEnd =
          ENTRIES_PER_TABLE - ((iova >>> entryShift(leafLevel)) & (ENTRIES_PER_TABLE - 1));
      long pages = Math.min(count, slotsToTableEnd / replicas);
      keptOldBytes += pages * pageSize;
      return pages * pageSize;
    }
    int first = index(table, iova);
    int pages = (int) Math.min(count, (table.entries.length - first) / replicas);
    for (int slot = first; slot < first + pages * replicas; slot++) {
      if (!makeRoom(table, slot, leafLevel)) {
        return -1;
      }
    }
    long slotSize = entrySize(leafLevel);
    for (int slot = first; slot < first + pages * replicas; slot++) {
      if (table.entries[slot] != EMPTY) {
        keptOldBytes += slotSize; // VT-d: cmpxchg from zero failed, "already set"
      } else {
        table.entries[slot] =
            Pte.leaf(paddr + (long) ((slot - first) / replicas) * pageSize, pageSize, prot);
        liveMappedBytes += slotSize;
      }
    }
    return pages * pageSize;
  }

  /**
   * Empties a slot a leaf is about to take, or returns false for -EEXIST. A table there goes with
   * everything below it (VT-d {@code switch_to_super_page()} → {@code dma_pte_free_pagetable()},
   * ARM {@code arm_lpae_init_pte()} → {@code __arm_lpae_unmap()}, AMD {@code free_clear_pte()}); a
   * leaf follows the format's {@link LeafConflict}, except that VT-d superpages clear their slots
   * first.
   */
  private boolean makeRoom(TablePage table, int slot, int leafLevel) {
    long pte = table.entries[slot];
    if (Pte.isLeaf(pte)) {
      noteConflict(slotStart(table, slot));
      LeafConflict rule =
          format.superpagesClearFirst() && leafLevel > 1
              ? LeafConflict.REPLACE
              : format.leafConflict();
      if (rule == LeafConflict.FAIL) {
        return false;
      }
      if (rule == LeafConflict.KEEP_OLD) {
        return true;
      }
    }
    clearSlot(table, slot);
    return true;
  }

  /**
   * Walks down to the table of {@code leafLevel} holding {@code iova}, installing missing tables
   * into empty slots ({@code pfn_to_dma_pte()}, {@code __arm_lpae_map()}, {@code alloc_pte()}).
   * Returns null where a large page already covers {@code iova} and the format does not replace it:
   * ARM returns -EEXIST; VT-d would walk into the superpage's data page as if it were a table. AMD
   * clears the large page, all its replicas, and installs a table in its place.
   */
  private TablePage walkToTable(long iova, int leafLevel) {
    TablePage table = root;
    while (table.level() > leafLevel) {
      int slot = index(table, iova);
      long pte = table.entries[slot];
      if (!Pte.isTable(pte)) {
        if (pte != EMPTY) {
          noteConflict(iova);
          if (format.leafConflict() != LeafConflict.REPLACE) {
            return null;
          }
          dropLargePage(table, slot, pte);
        }
        install(table, slot);
      }
      table = table.children[slot];
    }
    return table;
  }

  /** AMD {@code alloc_pte()}: cmpxchg every replica still holding {@code pte} to zero. */
  private void dropLargePage(TablePage table, int slot, long pte) {
    int replicas = (int) (Pte.pageSize(pte) >>> entryShift(table.level()));
    int first = slot & -replicas;
    for (int i = first; i < first + replicas; i++) {
      if (table.entries[i] == pte) {
        dropLeaf(table, i, pte);
      }
    }
  }

  /** AMD {@code increase_address_space()}: new roots above the old one until the page fits. */
  private void growToHold(long last, int leafLevel) {
    while (outside(last) || root.level() < leafLevel) {
      TablePage old = root;
      root = newTable(old.level() + 1, 0, cpu);
      root.entries[0] = Pte.TABLE;
      root.children[0] = old;
      old.linkTo(root, 0);
      listener.tableInstalled(root);
    }
  }

  private void install(TablePage parent, int slot) {
    TablePage child = newTable(parent.level() - 1, slotStart(parent, slot), cpu);
    child.linkTo(parent, slot);
    parent.entries[slot] = Pte.TABLE;
    parent.children[slot] = child;
    listener.tableInstalled(child);
  }

  private TablePage newTable(int level, long spanStart, int installCpu) {
    int spanShift = Math.min(format.addressBits(), PageTableFormat.levelShift(level));
    liveTablePages++;
    return new TablePage(
        nextTableId++,
        level,
        spanStart,
        spanShift,
        1 << (spanShift - entryShift(level)),
        installCpu);
  }

  // ---- unmap ----

  /** {@code __iommu_unmap()}: returns the bytes the driver reported unmapped. */
  private long unmapRange(long iova, long size) {
    long unmapped = 0;
    while (Long.compareUnsigned(unmapped, size) < 0) {
      long pageSize =
          PageSizeSplit.pageSize(
              format.pageSizes(), iova + unmapped, iova + unmapped, size - unmapped);
      long count =
          PageSizeSplit.pageCount(
              format.pageSizes(), iova + unmapped, iova + unmapped, size - unmapped, pageSize);
      long done =
          switch (format.unmapRule()) {
            case ROUND_UP_AND_CLEAR_RANGE -> unmapRoundingUp(iova + unmapped, count * pageSize);
            case EXACT_BLOCKS -> unmapExactBlocks(iova + unmapped, pageSize, count);
            case WHOLE_PAGES_AT_IOVA -> unmapWholePages(iova + unmapped, count * pageSize);
          };
      if (done == 0) {
        break;
      }
      unmapped += done;
    }
    return unmapped;
  }

  /**
   * VT-d {@code intel_iommu_unmap()}: "Cope with horrid API which requires us to unmap more than
   * the size argument if it happens to be a large-page mapping" — the size is rounded up to the
   * page size of the entry where the walk ends (a superpage, or an empty entry at any level), then
   * {@code domain_unmap()} clears the range and the rounded size is returned, mapped or not.
   */
  private long unmapRoundingUp(long iova, long size) {
    if (outside(iova)) {
      return 0; // pfn_to_dma_pte() refuses IOVAs beyond the address width
    }
    long pageSize = entrySize(walkEnd(iova).level());
    long rounded = Long.compareUnsigned(size, pageSize) < 0 ? pageSize : size;
    if (!outside(iova + rounded - 1)) { // domain_unmap() WARNs and clears nothing otherwise
      clearRange(root, iova, iova + rounded - 1);
    }
    return rounded;
  }

  /**
   * VT-d {@code dma_pte_clear_level()}: entries the range covers whole are cleared, tables among
   * them unlinked with all tables below ({@code dma_pte_list_pagetables()}); partly covered tables
   * are recursed into. There is no superpage check on that recursion: a superpage the range only
   * partly covers is walked as if its data page were a table, and stays mapped.
   */
  private void clearRange(TablePage table, long start, long last) {
    int shift = entryShift(table.level());
    for (int slot = index(table, maxUnsigned(start, table.spanStart()));
        slot < table.entries.length;
        slot++) {
      long slotStart = slotStart(table, slot);
      if (Long.compareUnsigned(slotStart, last) > 0) {
        return;
      }
      long pte = table.entries[slot];
      if (pte == EMPTY) {
        continue;
      }
      boolean covered =
          Long.compareUnsigned(start, slotStart) <= 0
              && Long.compareUnsigned(last, slotStart + (1L << shift) - 1) >= 0;
      if (covered) {
        clearSlot(table, slot);
      } else if (Pte.isTable(pte)) {
        clearRange(table.children[slot], start, last);
      } else {
        partialLargePage = PartialLargePage.LEFT_MAPPED;
      }
    }
  }

  /**
   * ARM {@code __arm_lpae_unmap()}: walk to the level whose block size is {@code pageSize} and
   * clear up to {@code count} entries there, up to the end of that table and the first empty one; a
   * table in such an entry goes with everything below it. An empty entry on the way returns 0, and
   * so does a block larger than {@code pageSize}: "Unmap of a partial large IOPTE is not allowed".
   */
  private long unmapExactBlocks(long iova, long pageSize, long count) {
    if (outside(iova)) {
      return 0; // arm_lpae_unmap_pages(): iova beyond ias
    }
    TablePage table = root;
    while (true) {
      int slot = index(table, iova);
      long pte = table.entries[slot];
      if (pte == EMPTY) {
        return 0;
      }
      if (pageSize == entrySize(table.level())) {
        int limit = (int) Math.min(count, table.entries.length - slot);
        int cleared = 0;
        while (cleared < limit && table.entries[slot + cleared] != EMPTY) {
          clearSlot(table, slot + cleared++);
        }
        return cleared * pageSize;
      }
      if (!Pte.isTable(pte)) {
        partialLargePage = PartialLargePage.REFUSED;
        return 0;
      }
      table = table.children[slot];
    }
  }

  /**
   * AMD {@code iommu_v1_unmap_pages()}: {@code fetch_pte()} the page at {@code iova}, clear all its
   * replicas and move on to the end of that page, whatever {@code size} says, until {@code size}
   * bytes are counted. {@code fetch_pte()} fails only on a missing entry above level 1: an empty
   * slot of an existing level-1 table is "unmapped" as a 4 KiB page.
   */
  private long unmapWholePages(long iova, long size) {
    long unmapped = 0;
    long next = iova;
    while (Long.compareUnsigned(unmapped, size) < 0) {
      if (outside(next)) {
        return unmapped;
      }
      TablePage table = walkEnd(next);
      int slot = index(table, next);
      long pte = table.entries[slot];
      if (pte == EMPTY && table.level() > 1) {
        return unmapped;
      }
      long pageSize = pte == EMPTY ? entrySize(table.level()) : Pte.pageSize(pte);
      int replicas = (int) (pageSize >>> entryShift(table.level()));
      int first = slot & -replicas;
      for (int i = first; i < first + replicas; i++) {
        // Replicas are zeroed blindly; a table among them (left by mapping a smaller page
        // over one replica) is leaked by the kernel and reported freed here.
        clearSlot(table, i);
      }
      next = (next & -pageSize) + pageSize;
      unmapped += pageSize;
    }
    return unmapped;
  }

  // ---- entries ----

  private void clearSlot(TablePage table, int slot) {
    long pte = table.entries[slot];
    if (Pte.isTable(pte)) {
      TablePage child = table.children[slot];
      table.entries[slot] = EMPTY;
      table.children[slot] = null;
      freeSubtree(child);
    } else if (pte != EMPTY) {
      dropLeaf(table, slot, pte);
    }
  }

  /** Puts an unlinked table and every table below it on the call's freelist, parents first. */
  private void freeSubtree(TablePage table) {
    freedTables.add(table);
    liveTablePages--;
    listener.tableFreed(table, cpu, freeTiming);
    int shift = entryShift(table.level());
    for (int slot = 0; slot < table.entries.length; slot++) {
      long pte = table.entries[slot];
      if (Pte.isTable(pte)) {
        freeSubtree(table.children[slot]);
      } else if (pte != EMPTY) {
        countDropped(slotStart(table, slot), 1L << shift, Pte.pageSize(pte));
      }
    }
  }

  private void dropLeaf(TablePage table, int slot, long pte) {
    table.entries[slot] = EMPTY;
    countDropped(slotStart(table, slot), entrySize(table.level()), Pte.pageSize(pte));
  }

  /**
   * Accounts for {@code bytes} at {@code iova}, one entry of a page of {@code pageSize}, no longer
   * mapped.
   */
  private void countDropped(long iova, long bytes, long pageSize) {
    liveMappedBytes -= bytes;
    droppedBytes += bytes;
    droppedOutsideRange += bytes - overlap(iova, bytes, rangeStart, rangeLast);
    long pageStart = iova & -pageSize;
    long coveredOfPage = overlap(pageStart, pageSize, rangeStart, rangeLast);
    if (partialLargePage == PartialLargePage.NONE
        && coveredOfPage != 0
        && coveredOfPage != pageSize) {
      partialLargePage = PartialLargePage.REMOVED_WHOLE;
    }
  }

  // ---- walks ----

  /** The table where a walk for {@code iova} ends: the entry there is a leaf or empty. */
  private TablePage walkEnd(long iova) {
    TablePage table = root;
    while (true) {
      int slot = index(table, iova);
      if (!Pte.isTable(table.entries[slot])) {
        return table;
      }
      table = table.children[slot];
    }
  }

  private long leafAt(long iova) {
    if (outside(iova)) {
      return EMPTY;
    }
    TablePage table = walkEnd(iova);
    return table.entries[index(table, iova)];
  }

  /** Reports the leaves of {@code table} overlapping {@code [start, last]}, in IOVA order. */
  private void visit(TablePage table, long start, long last, MappingVisitor visitor) {
    long from = maxUnsigned(start, table.spanStart());
    if (Long.compareUnsigned(from, table.spanLast()) > 0) {
      return;
    }
    int shift = entryShift(table.level());
    for (int slot = index(table, from); slot < table.entries.length; slot++) {
      long slotStart = slotStart(table, slot);
      if (Long.compareUnsigned(slotStart, last) > 0) {
        return;
      }
      long pte = table.entries[slot];
      if (Pte.isTable(pte)) {
        visit(table.children[slot], start, last, visitor);
      } else if (pte != EMPTY) {
        long pageSize = Pte.pageSize(pte);
        int replicas = (int) (pageSize >>> shift);
        if (replicas > 1 && (slot & (replicas - 1)) == 0 && replicasAgree(table, slot, replicas)) {
          visitor.mapping(slotStart, Pte.paddr(pte), pageSize, Pte.prot(pte));
          slot += replicas - 1;
        } else {
          visitor.mapping(
              slotStart, Pte.paddr(pte) + (slotStart & (pageSize - 1)), 1L << shift, Pte.prot(pte));
        }
      }
    }
  }

  private static void forEachTablePage(TablePage table, Consumer<TablePage> action) {
    action.accept(table);
    if (table.children == null) {
      return;
    }
    for (TablePage child : table.children) {
      if (child != null) {
        forEachTablePage(child, action);
      }
    }
  }

  private static boolean replicasAgree(TablePage table, int first, int replicas) {
    for (int i = first + 1; i < first + replicas; i++) {
      if (table.entries[i] != table.entries[first]) {
        return false;
      }
    }
    return true;
  }

  // ---- the call in progress ----

  private void beginCall(long iova, long size, int callCpu, TableFreeTiming timing) {
    freedTables.clear();
    cpu = callCpu;
    freeTiming = timing;
    rangeStart = iova;
    rangeLast = iova + size - 1;
    droppedBytes = 0;
    droppedOutsideRange = 0;
    keptOldBytes = 0;
    firstConflict = MapResult.NO_CONFLICT;
    partialLargePage = PartialLargePage.NONE;
  }

  private MapResult mapResult(OpStatus status) {
    return new MapResult(
        status, keptOldBytes, droppedBytes, firstConflict, freedTablesOfCall(), freeTiming);
  }

  private List<TablePage> freedTablesOfCall() {
    return freedTables.isEmpty() ? List.of() : List.copyOf(freedTables);
  }

  private void noteConflict(long iova) {
    if (firstConflict == MapResult.NO_CONFLICT) {
      firstConflict = iova;
    }
  }

  // ---- addresses ----

  /** Beyond what the current root translates (AMD: {@code PM_LEVEL_SIZE(mode)}). */
  private boolean outside(long iova) {
    return root.spanShift() < 64 && iova >>> root.spanShift() != 0;
  }

  private static int index(TablePage table, long iova) {
    return (int) (iova >>> entryShift(table.level())) & (table.entries.length - 1);
  }

  private static long slotStart(TablePage table, int slot) {
    return table.spanStart() + ((long) slot << entryShift(table.level()));
  }

  /** Bytes of {@code [start, start + size)} inside {@code [first, last]}, all unsigned. */
  private static long overlap(long start, long size, long first, long last) {
    long low = maxUnsigned(start, first);
    long high = Long.compareUnsigned(start + size - 1, last) < 0 ? start + size - 1 : last;
    return Long.compareUnsigned(high, low) >= 0 ? high - low + 1 : 0;
  }

  private static long maxUnsigned(long a, long b) {
    return Long.compareUnsigned(a, b) >= 0 ? a : b;
  }
}
