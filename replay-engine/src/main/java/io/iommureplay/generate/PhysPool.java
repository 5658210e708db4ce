package io.iommureplay.generate;

import java.util.Arrays;

/**
 * Physical memory of one domain's buffers (or of a host's page-table pages): pieces of 2^k bytes,
 * aligned to their size up to {@link #MAX_ALIGN}. A freed piece goes on a per-size stack and the
 * next request of that size takes the most recently freed one, as the page allocator's per-CPU
 * lists and the network page pool do: pages are reused at once. Fresh pieces come from a bump
 * pointer over the pool's region. Memory is bounded by the most pieces ever live at once.
 */
final class PhysPool {
  /** Pieces of 2 KiB (half pages, as a NIC's rx buffers) up to 1 GiB. */
  static final int MIN_LOG2 = 11;

  static final int MAX_LOG2 = 30;

  /** Larger pieces are aligned to 1 GiB only. */
  static final long MAX_ALIGN = 1L << 30;

  private final long base;
  private final long limit;
  private long bump;
  private final long[][] stacks = new long[MAX_LOG2 + 1][];
  private final int[] sizes = new int[MAX_LOG2 + 1];

  PhysPool(long base, long size) {
    this.base = base;
    this.limit = base + size;
    this.bump = base;
    for (int i = MIN_LOG2; i <= MAX_LOG2; i++) stacks[i] = new long[4];
  }

  /** A piece of 2^log2 bytes, aligned to its size (or 1 GiB). */
  long take(int log2) {
    check(log2);
    if (sizes[log2] > 0) return stacks[log2][--sizes[log2]];
    long align = Math.min(1L << log2, MAX_ALIGN);
    long at = (bump + align - 1) & -align;
    if (log2 == MIN_LOG2) {
      // A fresh page gives two halves: hand out one, keep the other.
      at = (bump + 4095) & -4096L;
      bump = at + 4096;
      if (bump > limit) throw new IllegalStateException("physical pool exhausted");
      give(at + 2048, log2);
      return at;
    }
    bump = at + (1L << log2);
    if (bump > limit) throw new IllegalStateException("physical pool exhausted");
    return at;
  }

  /** Gives a piece back: the next {@link #take} of its size returns it. */
  void give(long address, int log2) {
    check(log2);
    if (address < base || address >= limit) {
      throw new IllegalArgumentException("0x" + Long.toHexString(address) + " not in this pool");
    }
    if (sizes[log2] == stacks[log2].length) {
      stacks[log2] = Arrays.copyOf(stacks[log2], stacks[log2].length * 2);
    }
    stacks[log2][sizes[log2]++] = address;
  }

  private static void check(int log2) {
    if (log2 < MIN_LOG2 || log2 > MAX_LOG2) throw new IllegalArgumentException("size 2^" + log2);
  }
}
