package io.iommureplay.model;

import java.util.Arrays;

/**
 * A map from long to long without boxing, for per-IOVA bookkeeping on the replay's hot path: open
 * addressing with linear probing and backward-shift deletion (no tombstones). Keys may be any long
 * but {@link #NO_KEY}; {@link #MISSING} is returned for absent keys, so values must not be it.
 */
final class LongLongMap {
  static final long NO_KEY = Long.MIN_VALUE;
  static final long MISSING = Long.MIN_VALUE;

  private long[] keys = newKeys(16);
  private long[] values = new long[16];
  private int size;

  private static long[] newKeys(int capacity) {
    long[] k = new long[capacity];
    Arrays.fill(k, NO_KEY);
    return k;
  }

  int size() {
    return size;
  }

  void put(long key, long value) {
    if (size * 4 >= keys.length * 3) grow(); // load factor 3/4
    int i = slot(key);
    while (keys[i] != NO_KEY && keys[i] != key) i = (i + 1) & (keys.length - 1);
    if (keys[i] == NO_KEY) size++;
    keys[i] = key;
    values[i] = value;
  }

  /** Removes {@code key}; returns its value, or {@link #MISSING}. */
  long remove(long key) {
    int mask = keys.length - 1;
    int i = slot(key);
    while (keys[i] != key) {
      if (keys[i] == NO_KEY) return MISSING;
      i = (i + 1) & mask;
    }
    long value = values[i];
    // Backward shift: move later entries of the probe run into the hole they may belong in.
    for (int hole = i, j = (i + 1) & mask; keys[j] != NO_KEY; j = (j + 1) & mask) {
      int home = slot(keys[j]);
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        keys[hole] = keys[j];
        values[hole] = values[j];
        hole = j;
      }
      i = hole;
    }
    keys[i] = NO_KEY;
    size--;
    return value;
  }

  /** The keys in ascending order (for deterministic snapshots). */
  long[] sortedKeys() {
    long[] out = new long[size];
    int n = 0;
    for (long k : keys) {
      if (k != NO_KEY) out[n++] = k;
    }
    Arrays.sort(out);
    return out;
  }

  long get(long key) {
    int i = slot(key);
    while (keys[i] != NO_KEY) {
      if (keys[i] == key) return values[i];
      i = (i + 1) & (keys.length - 1);
    }
    return MISSING;
  }

  private int slot(long key) {
    long h = key * 0x9E3779B97F4A7C15L; // Fibonacci hashing spreads sequential pfns
    return (int) (h >>> 32) & (keys.length - 1);
  }

  private void grow() {
    long[] oldKeys = keys;
    long[] oldValues = values;
    keys = newKeys(oldKeys.length * 2);
    values = new long[oldKeys.length * 2];
    size = 0;
    for (int i = 0; i < oldKeys.length; i++) {
      if (oldKeys[i] != NO_KEY) put(oldKeys[i], oldValues[i]);
    }
  }
}
