package io.iommureplay.model.iova;

import static io.iommureplay.model.iova.IovaAllocator.FAILED;
import static io.iommureplay.model.iova.PfnRangeTree.NIL;

import io.iommureplay.model.snapshot.SnapshotInput;
import io.iommureplay.model.snapshot.SnapshotOutput;

/**
 * The rbtree half of drivers/iommu/iova.c (one {@code struct iova_domain} without its rcaches):
 * allocated ranges, the two cached start nodes and {@code max32_alloc_size}. Rules as in Linux
 * v6.1–v6.18, which do not differ here. Callers take (and count) {@code iova_rbtree_lock}.
 */
final class IovaRbtree {
  /** IOVA_ANCHOR: a node above the usable space, where every downward walk starts. */
  static final long ANCHOR = Long.MAX_VALUE;

  private final PfnRangeTree tree = new PfnRangeTree();
  private final int granuleShift;
  private final long startPfn;
  private final long dma32BitPfn;
  private final int anchor;
  private int cachedNode;
  private int cached32Node;
  private long max32AllocSize;

  /** init_iova_domain(): granule 2^granuleShift bytes, nothing handed out below startPfn. */
  IovaRbtree(int granuleShift, long startPfn) {
    if (granuleShift < 0 || granuleShift > 31 || startPfn < 0) {
      throw new IllegalArgumentException(
          "granule shift " + granuleShift + ", start pfn " + startPfn);
    }
    this.granuleShift = granuleShift;
    this.startPfn = startPfn;
    this.dma32BitPfn = 1L << (32 - granuleShift);
    this.max32AllocSize = dma32BitPfn;
    this.anchor = tree.insert(ANCHOR, ANCHOR);
    this.cachedNode = anchor;
    this.cached32Node = anchor;
  }

  long startPfn() {
    return startPfn;
  }

  long dma32BitPfn() {
    return dma32BitPfn;
  }

  /**
   * alloc_iova() → __alloc_and_insert_iova_range(): the highest {@code size} pages below {@code
   * limitPfn} (inclusive) that fit, searching down from the cached node (cached32_node for limits
   * up to 4 GiB) and, if that fails, once more over the space above it; pfn_lo aligned to
   * roundup_pow_of_two(size) when {@code sizeAligned}. A 32-bit request of at least
   * max32_alloc_size pages fails at once; any failure sets max32_alloc_size to its size.
   */
  long alloc(long size, long limitPfn, boolean sizeAligned) {
    long limit = limitPfn + 1; // alloc_iova() passes limit_pfn + 1
    long alignMask = sizeAligned ? -1L << (64 - Long.numberOfLeadingZeros(size - 1)) : -1L;
    if (limit <= dma32BitPfn && size >= max32AllocSize) return FAILED; // iova32_full
    int curr = limit <= dma32BitPfn ? cached32Node : cachedNode; // __get_cached_rbnode()
    long retryPfn = tree.hi(curr);
    long high = limit;
    long low = startPfn;
    long newPfn;
    boolean retried = false;
    while (true) {
      do {
        high = Math.min(high, tree.lo(curr));
        newPfn = (high - size) & alignMask;
        curr = tree.prev(curr);
      } while (curr != NIL && newPfn <= tree.hi(curr) && newPfn >= low);
      if (high >= size && newPfn >= low) break;
      if (!retried && retryPfn < limit) { // C tests low_pfn == start_pfn
        retried = true;
        // Retry over the space above the cached node, from the first node reaching the
        // limit: iova_find_limit() picks that node or one whose walk gives the same result.
        high = limit;
        low = retryPfn + 1;
        curr = tree.containing(limit);
        if (curr == NIL) curr = tree.ceiling(limit);
        continue;
      }
      max32AllocSize = size;
      return FAILED;
    }
    insertUpdatingCache(newPfn, size);
    return newPfn;
  }

  /** free_iova(): frees the range holding {@code pfn}; false if none does. */
  boolean free(long pfn) {
    int node = tree.containing(pfn);
    if (node == NIL || node == anchor) return false;
    remove(node);
    return true;
  }

  /** remove_iova() of the range {@code [lo, hi]}; false if no range is exactly that. */
  boolean remove(long lo, long hi) {
    if (lastPfnOfRangeAt(lo) != hi) return false;
    remove(tree.containing(lo));
    return true;
  }

  /**
   * reserve_iova(): marks {@code [pfnLo, pfnHi]} used, stretching ranges it overlaps
   * (__adjust_overlap_range()) and adding what none covers; cached nodes are left alone.
   */
  void reserve(long pfnLo, long pfnHi) {
    int node = tree.floor(pfnLo);
    if (node == NIL) node = tree.ceiling(pfnLo);
    else if (tree.hi(node) < pfnLo) node = tree.next(node);
    for (; node != NIL && tree.lo(node) <= pfnHi; node = tree.next(node)) {
      if (pfnLo < tree.lo(node)) tree.lowerFirst(node, pfnLo);
      if (pfnHi > tree.hi(node)) pfnLo = tree.hi(node) + 1;
      if (pfnLo >= tree.lo(node) && pfnHi <= tree.hi(node)) return;
    }
    tree.insert(pfnLo, pfnHi);
  }

  /** The last pfn of the range starting at {@code pfn}, or −1 if no range starts there. */
  long lastPfnOfRangeAt(long pfn) {
    int node = tree.containing(pfn);
    return node != NIL && node != anchor && tree.lo(node) == pfn ? tree.hi(node) : -1;
  }

  /**
   * Makes {@code [pfn, pfn + size)} one allocated range as an allocation would, first freeing
   * (remove_iova()) whatever overlaps it.
   */
  void take(long pfn, long size) {
    long last = pfn + size - 1;
    for (int node = tree.floor(last);
        node != NIL && node != anchor && tree.hi(node) >= pfn;
        node = tree.floor(last)) {
      remove(node);
    }
    insertUpdatingCache(pfn, size);
  }

  /** The cached nodes and max32_alloc_size, to put back with {@link #rollback}. */
  long cachedNodeLo() {
    return tree.lo(cachedNode);
  }

  long cached32NodeLo() {
    return tree.lo(cached32Node);
  }

  long max32AllocSize() {
    return max32AllocSize;
  }

  /**
   * Undoes the last {@link #alloc}: drops the range at {@code pfn} (if any) without the cache moves
   * a free makes, and restores the cached nodes and max32_alloc_size noted before it.
   */
  void rollback(long pfn, long cachedLo, long cached32Lo, long max32) {
    if (pfn != FAILED && lastPfnOfRangeAt(pfn) >= 0) tree.remove(tree.containing(pfn));
    cachedNode = nodeAt(cachedLo);
    cached32Node = nodeAt(cached32Lo);
    max32AllocSize = max32;
  }

  /** Visits the allocated and reserved ranges (not the anchor) in ascending order. */
  void forEach(PfnRangeTree.RangeVisitor visitor) {
    tree.forEach(
        (lo, hi) -> {
          if (lo != ANCHOR) visitor.range(lo, hi);
        });
  }

  /** Free pages in {@code [startPfn, limitPfn]}. */
  long freePagesUpTo(long limitPfn) {
    HoleScanner scanner = new HoleScanner(startPfn, limitPfn, dma32BitPfn);
    forEach(scanner);
    return scanner.finish(0, 0).freePages();
  }

  private void insertUpdatingCache(long pfn, long size) {
    int node = tree.insert(pfn, pfn + size - 1);
    // __cached_rbnode_insert_update()
    if (pfn + size - 1 < dma32BitPfn) cached32Node = node;
    else cachedNode = node;
  }

  /** remove_iova(): __cached_rbnode_delete_update(), then rb_erase(). */
  private void remove(int node) {
    long lo = tree.lo(node);
    long hi = tree.hi(node);
    if (node == cached32Node || (hi < dma32BitPfn && lo >= tree.lo(cached32Node))) {
      cached32Node = tree.next(node);
    }
    if (lo < dma32BitPfn) max32AllocSize = dma32BitPfn;
    if (lo >= tree.lo(cachedNode)) cachedNode = tree.next(node);
    tree.remove(node);
  }

  private int nodeAt(long lo) {
    int node = tree.containing(lo);
    return node != NIL && tree.lo(node) == lo ? node : anchor;
  }

  void save(SnapshotOutput out) {
    out.writeVarInt(granuleShift).writeVarLong(startPfn);
    out.writeVarInt(tree.size() - 1);
    long[] previous = {0};
    forEach(
        (lo, hi) -> {
          out.writeVarLong(lo - previous[0]).writeVarLong(hi - lo);
          previous[0] = hi;
        });
    out.writeLong(cachedNodeLo()).writeLong(cached32NodeLo()).writeVarLong(max32AllocSize);
  }

  static IovaRbtree restore(SnapshotInput in) {
    IovaRbtree t = new IovaRbtree(in.readVarInt(), in.readVarLong());
    long previous = 0;
    for (int n = in.readCount(); n > 0; n--) {
      long lo = previous + in.readVarLong();
      previous = lo + in.readVarLong();
      t.tree.insert(lo, previous);
    }
    t.cachedNode = t.nodeAt(in.readLong());
    t.cached32Node = t.nodeAt(in.readLong());
    t.max32AllocSize = in.readVarLong();
    return t;
  }
}
