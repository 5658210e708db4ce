package io.iommureplay.model.iova;

/**
 * Builds a {@link FragmentationSample} from the held ranges of a window, fed in ascending order
 * (ranges may reach outside the window; they are clipped).
 */
final class HoleScanner implements PfnRangeTree.RangeVisitor {
  private final long first;
  private final long last;
  private final long dma32Pfn;
  private long next;
  private long allocated;
  private long holes;
  private long largest;
  private long largest32;

  /** The window {@code [first, last]}; pfns from {@code dma32Pfn} up are above 4 GiB. */
  HoleScanner(long first, long last, long dma32Pfn) {
    this.first = first;
    this.last = last;
    this.dma32Pfn = dma32Pfn;
    this.next = first;
  }

  @Override
  public void range(long lo, long hi) {
    if (hi < next || lo > last) return;
    long from = Math.max(lo, next);
    long to = Math.min(hi, last);
    hole(next, from - 1);
    allocated += to - from + 1;
    next = to + 1;
  }

  FragmentationSample finish(long reservedPages, long cachedPages) {
    hole(next, last);
    next = last + 1;
    long window = Math.max(0, last - first + 1);
    return new FragmentationSample(
        window,
        allocated,
        reservedPages,
        cachedPages,
        window - allocated,
        holes,
        largest,
        largest32);
  }

  private void hole(long from, long to) {
    if (to < from) return;
    holes++;
    largest = Math.max(largest, to - from + 1);
    if (from < dma32Pfn) largest32 = Math.max(largest32, Math.min(to, dma32Pfn - 1) - from + 1);
  }
}
