package io.iommureplay.generate;

import io.iommureplay.schema.IommuEvent;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.function.Consumer;

/**
 * Synthetic IOMMU traces with labelled bugs (SPEC "Ground truth"; issue 4, "Workload generator").
 * Deterministic: the same {@link GeneratorOptions} give the same events, byte for byte, and the
 * same labels. Events are generated as they are read, in bounded memory.
 *
 * <p>The events are consistent with {@code IommuModel} in the way real imported traces are: every
 * domain is set up (DEVICE_ADD, DOMAIN_ALLOC, ATTACH, IOVA_DOMAIN_INIT, IOVA_RESERVE of the MSI
 * window, RESERVED_REGION); every MAP names its domain and device (attribution TRACE); DMA-API
 * buffers get their IOVA from an IOVA_ALLOC made by the kernel's allocator (so the model's
 * allocator replay agrees with every choice); strict unmaps are followed by the page-selective
 * flush the VT-d driver issues, then IOVA_FREE; lazy unmaps by FQ_ENQUEUE, with the flushes and
 * releases a per-CPU flush queue (256 slots, 10 ms) makes. Map and unmap calls carry {@code
 * durationNs}: the call ran over {@code [tsNs − durationNs, tsNs]} (the tracepoints fire as the
 * call returns). Device accesses (DEVICE_ACCESS, CPU −1) touch mapped buffers only, unless they are
 * an injected bug. A trace of several hosts merges them by time.
 *
 * <p>How each bug type is injected is documented on its class (RaceInjections, WindowInjections,
 * AllocatorInjections); every injected bug yields one {@link Label}.
 */
public final class WorkloadGenerator implements Iterator<IommuEvent> {
  private final GeneratorOptions options;
  private final HostGenerator[] hosts;
  private final List<Label> labels = new ArrayList<>();
  private final Consumer<Label> onLabel;

  public WorkloadGenerator(GeneratorOptions options) {
    this(options, label -> {});
  }

  /** A generator that also hands each label to {@code onLabel} once its bug is complete. */
  public WorkloadGenerator(GeneratorOptions options, Consumer<Label> onLabel) {
    this.options = options;
    this.onLabel = onLabel;
    hosts = new HostGenerator[options.hosts()];
    long share = options.events() / options.hosts();
    long rest = options.events() % options.hosts();
    for (int i = 0; i < hosts.length; i++) {
      hosts[i] = new HostGenerator(options, i, share + (i < rest ? 1 : 0), this::labelled);
    }
  }

  /** Generates everything: events to {@code events}; returns the labels. */
  public static List<Label> generate(GeneratorOptions options, Consumer<IommuEvent> events) {
    WorkloadGenerator g = new WorkloadGenerator(options);
    while (g.hasNext()) events.accept(g.next());
    return g.labels();
  }

  private void labelled(Label label) {
    labels.add(label);
    onLabel.accept(label);
  }

  public GeneratorOptions options() {
    return options;
  }

  @Override
  public boolean hasNext() {
    boolean any = false;
    for (HostGenerator h : hosts) any |= h.fill();
    return any;
  }

  @Override
  public IommuEvent next() {
    HostGenerator first = null;
    for (HostGenerator h : hosts) {
      if (!h.fill()) continue;
      if (first == null || h.out.peek().getTsNs() < first.out.peek().getTsNs()) first = h;
    }
    if (first == null) throw new NoSuchElementException();
    return first.out.poll();
  }

  /** Labels of the bugs completed so far (all of them once the events are exhausted). */
  public List<Label> labels() {
    return Collections.unmodifiableList(labels);
  }
}
