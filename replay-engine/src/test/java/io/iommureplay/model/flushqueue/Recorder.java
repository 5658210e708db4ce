package io.iommureplay.model.flushqueue;

import java.util.ArrayList;
import java.util.List;

/** Writes down what a queue makes its owner do: "flush FULL", "pages 7", "iova 0x10+1". */
final class Recorder implements FlushQueueListener {
  final List<String> calls = new ArrayList<>();

  @Override
  public void flush(FlushReason reason) {
    calls.add("flush " + reason);
  }

  @Override
  public void tablePagesReleased(long freelist) {
    calls.add("pages " + freelist);
  }

  @Override
  public void iovaReleased(long pfn, long pages) {
    calls.add("iova 0x%x+%d".formatted(pfn, pages));
  }

  /** The calls so far, forgotten. */
  List<String> take() {
    List<String> taken = List.copyOf(calls);
    calls.clear();
    return taken;
  }
}
