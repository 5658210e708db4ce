package io.iommureplay.model.iova;

import java.util.Arrays;

/**
 * Disjoint inclusive pfn ranges ordered by their first pfn: the model's stand-in for the rbtree of
 * {@code struct iova} in drivers/iommu/iova.c. A treap kept in parallel primitive arrays, its nodes
 * also linked in order (rb_prev()/rb_next() in O(1)), so a range costs 36 bytes and no object;
 * memory follows the largest number of ranges held at once.
 *
 * <p>Nodes are named by int handles, stable until the node is removed (then the slot is reused).
 * Priorities are a hash of the key a slot was created with, so the shape is deterministic; no query
 * result depends on the shape.
 */
final class PfnRangeTree {
  static final int NIL = -1;

  /** Receives ranges in ascending order. */
  interface RangeVisitor {
    void range(long lo, long hi);
  }

  private long[] lo = new long[16];
  private long[] hi = new long[16];
  private int[] left = new int[16];
  private int[] right = new int[16];
  private int[] priority = new int[16];
  private int[] before = new int[16];
  private int[] after = new int[16];
  private int root = NIL;
  private int first = NIL;
  private int size;
  private int slotsUsed;
  private int freeSlot = NIL; // chained through right[]

  int size() {
    return size;
  }

  long lo(int node) {
    return lo[node];
  }

  long hi(int node) {
    return hi[node];
  }

  /** Inserts {@code [firstPfn, lastPfn]}; the caller guarantees it overlaps no range held. */
  int insert(long firstPfn, long lastPfn) {
    int pred = floor(firstPfn);
    int node = newSlot(firstPfn, lastPfn);
    root = insert(root, node);
    int succ = pred == NIL ? first : after[pred];
    before[node] = pred;
    after[node] = succ;
    if (pred == NIL) first = node;
    else after[pred] = node;
    if (succ != NIL) before[succ] = node;
    size++;
    return node;
  }

  void remove(int node) {
    root = remove(root, lo[node]);
    if (before[node] == NIL) first = after[node];
    else after[before[node]] = after[node];
    if (after[node] != NIL) before[after[node]] = before[node];
    right[node] = freeSlot;
    freeSlot = node;
    size--;
  }

  /** The next lower range (rb_prev()), or {@link #NIL}. */
  int prev(int node) {
    return before[node];
  }

  /** The next higher range (rb_next()), or {@link #NIL}. */
  int next(int node) {
    return after[node];
  }

  /** Moves a range's first pfn down; the caller guarantees the order of ranges is unchanged. */
  void lowerFirst(int node, long firstPfn) {
    lo[node] = firstPfn;
  }

  /** The range with the greatest first pfn {@code <= key}, or {@link #NIL}. */
  int floor(long key) {
    int best = NIL;
    for (int t = root; t != NIL; ) {
      if (lo[t] <= key) {
        best = t;
        t = right[t];
      } else {
        t = left[t];
      }
    }
    return best;
  }

  /** The range with the least first pfn {@code >= key}, or {@link #NIL}. */
  int ceiling(long key) {
    int best = NIL;
    for (int t = root; t != NIL; ) {
      if (lo[t] >= key) {
        best = t;
        t = left[t];
      } else {
        t = right[t];
      }
    }
    return best;
  }

  /** The range holding {@code pfn} (iova.c private_find_iova()), or {@link #NIL}. */
  int containing(long pfn) {
    int node = floor(pfn);
    return node != NIL && hi[node] >= pfn ? node : NIL;
  }

  /** Visits every range in ascending order. */
  void forEach(RangeVisitor visitor) {
    for (int node = first; node != NIL; node = after[node]) visitor.range(lo[node], hi[node]);
  }

  private int newSlot(long firstPfn, long lastPfn) {
    int node = freeSlot;
    if (node != NIL) {
      freeSlot = right[node];
    } else {
      if (slotsUsed == lo.length) grow();
      node = slotsUsed++;
    }
    lo[node] = firstPfn;
    hi[node] = lastPfn;
    left[node] = NIL;
    right[node] = NIL;
    priority[node] = (int) ((firstPfn * 0x9E3779B97F4A7C15L) >>> 32);
    return node;
  }

  private void grow() {
    int n = lo.length * 2;
    lo = Arrays.copyOf(lo, n);
    hi = Arrays.copyOf(hi, n);
    left = Arrays.copyOf(left, n);
    right = Arrays.copyOf(right, n);
    priority = Arrays.copyOf(priority, n);
    before = Arrays.copyOf(before, n);
    after = Arrays.copyOf(after, n);
  }

  private int insert(int t, int node) {
    if (t == NIL) return node;
    if (lo[node] < lo[t]) {
      left[t] = insert(left[t], node);
      if (priority[left[t]] > priority[t]) t = rotateRight(t);
    } else {
      right[t] = insert(right[t], node);
      if (priority[right[t]] > priority[t]) t = rotateLeft(t);
    }
    return t;
  }

  private int remove(int t, long key) {
    if (lo[t] == key) return merge(left[t], right[t]);
    if (key < lo[t]) left[t] = remove(left[t], key);
    else right[t] = remove(right[t], key);
    return t;
  }

  /** Joins two treaps, every key of {@code a} below every key of {@code b}. */
  private int merge(int a, int b) {
    if (a == NIL) return b;
    if (b == NIL) return a;
    if (priority[a] > priority[b]) {
      right[a] = merge(right[a], b);
      return a;
    }
    left[b] = merge(a, left[b]);
    return b;
  }

  private int rotateRight(int t) {
    int l = left[t];
    left[t] = right[l];
    right[l] = t;
    return l;
  }

  private int rotateLeft(int t) {
    int r = right[t];
    right[t] = left[r];
    left[r] = t;
    return r;
  }
}
