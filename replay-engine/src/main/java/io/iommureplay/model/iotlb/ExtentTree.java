package io.iommureplay.model.iotlb;

import java.util.ArrayList;
import java.util.List;

/**
 * Extents ordered by (first, id), possibly overlapping: a treap whose nodes also hold the largest
 * {@code last} of their subtree, so the extents overlapping a range are found in O(log n + k).
 * Priorities come from a xorshift sequence: the shape is deterministic, and only the order matters.
 * An extent's {@code first}, {@code last} and {@code id} must not change while it is in the tree.
 */
final class ExtentTree {

  private Extent root;
  private int size;
  private int seed = 0x9E3779B9;

  int size() {
    return size;
  }

  void insert(Extent e) {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    e.priority = seed;
    e.left = null;
    e.right = null;
    e.maxLast = e.last;
    root = insert(root, e);
    size++;
  }

  void remove(Extent e) {
    root = remove(root, e);
    e.left = null;
    e.right = null;
    size--;
  }

  /** Appends the extents overlapping {@code [first, last]} to {@code out}, in order. */
  void collect(long first, long last, List<Extent> out) {
    collect(root, first, last, out);
  }

  /** Every extent, in order (a new list). */
  List<Extent> all() {
    List<Extent> out = new ArrayList<>(size);
    collect(root, Long.MIN_VALUE, Long.MAX_VALUE, out);
    return out;
  }

  private static Extent insert(Extent t, Extent e) {
    if (t == null) {
      return e;
    }
    if (precedes(e, t)) {
      t.left = insert(t.left, e);
      if (t.left.priority > t.priority) {
        t = rotateRight(t);
      }
    } else {
      t.right = insert(t.right, e);
      if (t.right.priority > t.priority) {
        t = rotateLeft(t);
      }
    }
    update(t);
    return t;
  }

  private static Extent remove(Extent t, Extent e) {
    if (t == null) {
      throw new IllegalStateException("extent not in this tree: [" + e.first + ", " + e.last + "]");
    }
    if (t == e) {
      return merge(t.left, t.right);
    }
    if (precedes(e, t)) {
      t.left = remove(t.left, e);
    } else {
      t.right = remove(t.right, e);
    }
    update(t);
    return t;
  }

  private static Extent merge(Extent a, Extent b) {
    if (a == null || b == null) {
      return a == null ? b : a;
    }
    if (a.priority > b.priority) {
      a.right = merge(a.right, b);
      update(a);
      return a;
    }
    b.left = merge(a, b.left);
    update(b);
    return b;
  }

  private static Extent rotateRight(Extent t) {
    Extent l = t.left;
    t.left = l.right;
    l.right = t;
    update(t);
    return l;
  }

  private static Extent rotateLeft(Extent t) {
    Extent r = t.right;
    t.right = r.left;
    r.left = t;
    update(t);
    return r;
  }

  private static void update(Extent t) {
    long m = t.last;
    if (t.left != null && t.left.maxLast > m) {
      m = t.left.maxLast;
    }
    if (t.right != null && t.right.maxLast > m) {
      m = t.right.maxLast;
    }
    t.maxLast = m;
  }

  private static boolean precedes(Extent a, Extent b) {
    return a.first < b.first || a.first == b.first && a.id < b.id;
  }

  private static void collect(Extent t, long first, long last, List<Extent> out) {
    if (t == null || t.maxLast < first) {
      return;
    }
    collect(t.left, first, last, out);
    if (t.first <= last) {
      if (t.last >= first) {
        out.add(t);
      }
      collect(t.right, first, last, out);
    }
  }
}
