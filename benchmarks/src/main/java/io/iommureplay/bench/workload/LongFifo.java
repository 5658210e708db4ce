package io.iommureplay.bench.workload;

import java.util.Arrays;
import java.util.NoSuchElementException;

/**
 * A first-in first-out queue of longs that grows as needed: a workload's buffers in flight, without
 * an object per buffer (the memory harness keeps a million of them while it measures the model).
 */
final class LongFifo {
  private long[] values = new long[16];
  private int head;
  private int size;

  int size() {
    return size;
  }

  boolean isEmpty() {
    return size == 0;
  }

  void add(long value) {
    if (size == values.length) grow();
    values[(head + size) & (values.length - 1)] = value;
    size++;
  }

  long remove() {
    if (size == 0) throw new NoSuchElementException();
    long value = values[head];
    head = (head + 1) & (values.length - 1);
    size--;
    return value;
  }

  private void grow() {
    long[] grown = new long[values.length * 2];
    for (int i = 0; i < size; i++) grown[i] = values[(head + i) & (values.length - 1)];
    values = grown;
    head = 0;
  }

  @Override
  public String toString() {
    long[] inOrder = new long[size];
    for (int i = 0; i < size; i++) inOrder[i] = values[(head + i) & (values.length - 1)];
    return Arrays.toString(inOrder);
  }
}
