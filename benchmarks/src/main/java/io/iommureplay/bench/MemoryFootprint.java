package io.iommureplay.bench;

import io.iommureplay.bench.workload.Workload;
import io.iommureplay.bench.workload.WorkloadKind;
import io.iommureplay.bench.workload.Workloads;
import io.iommureplay.model.Domain;
import io.iommureplay.model.IommuModel;
import io.iommureplay.model.ModelListener;
import io.iommureplay.schema.EventType;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.Mapping;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.management.JMException;
import javax.management.ObjectName;

/**
 * What the model keeps per live 4 KiB mapping: a workload that never unmaps is fed into a model
 * until a million pages are mapped, events made on the fly and dropped once applied; then the heap
 * is measured (full GC, used heap by {@link MemoryMXBean}) with the model, and again after dropping
 * it. The difference is the model's whole state (the generator's state is in both). A heap
 * histogram taken at both points ({@code GC.class_histogram}, through the DiagnosticCommand MBean,
 * as {@code jcmd PID GC.class_histogram} prints it) cross-checks the figure class by class. Target:
 * at most 64 bytes a live mapping.
 *
 * <p>Usage: {@code MemoryFootprint [pages]} (default 1,000,000). Run with a fixed heap and one GC
 * (run.sh: {@code -Xms2g -Xmx2g -XX:+UseParallelGC}), so that a full GC leaves only live objects.
 */
public final class MemoryFootprint {
  private static final long DEFAULT_PAGES = 1_000_000;
  private static final double TARGET_BYTES = 64;
  private static final int CLASSES_SHOWN = 8;
  private static final Pattern HISTOGRAM_LINE =
      Pattern.compile("^\\s*\\d+:\\s+(\\d+)\\s+(\\d+)\\s+(\\S+)");

  /** The model being measured: reachable through here only. */
  private static IommuModel model;

  /** The stream's generator, live at both measurements. */
  private static Workload generator;

  private static long mappedPages;

  private MemoryFootprint() {}

  private record Variant(String name, WorkloadKind kind, Predicate<IommuEvent> events) {}

  public static void main(String[] args) throws JMException {
    long pages = args.length > 0 ? Long.parseLong(args[0].replace("_", "")) : DEFAULT_PAGES;
    List<Variant> variants =
        List.of(
            new Variant(
                "NIC_LAZY: a 1-page IOVA allocation + MAP per page (page table + IOVA model)",
                WorkloadKind.NIC_LAZY,
                event -> true),
            new Variant(
                "NVME_STRICT: 16-128-page IOVA allocations, 4-128 KiB map lines",
                WorkloadKind.NVME_STRICT,
                event -> true),
            new Variant(
                "NIC_LAZY maps alone (no IOVA events: the page table and the rest of the model)",
                WorkloadKind.NIC_LAZY,
                MemoryFootprint::isNotIova));
    histogram(); // JMX's own objects now, so that they are there at every measurement
    boolean met = true;
    for (Variant variant : variants) met &= measure(variant, pages);
    if (!met) System.exit(1);
  }

  private static boolean measure(Variant variant, long pages) throws JMException {
    feed(variant, pages);
    long withModel = usedHeapAfterGc();
    Map<String, long[]> histogramWith = histogram();
    long[] table = pageTableSize();
    model = null;
    long withoutModel = usedHeapAfterGc();
    Map<String, long[]> histogramWithout = histogram();
    generator = null;

    long live = table[0] >> 12;
    double perMapping = (double) (withModel - withoutModel) / live;
    System.out.printf("%s%n", variant.name());
    System.out.printf(
        "  %,d live 4 KiB mappings (%,d table pages): model state %,d bytes ="
            + " %.1f bytes per live mapping (target <= %.0f)%n",
        live, table[1], withModel - withoutModel, perMapping, TARGET_BYTES);
    printHistogramDifference(histogramWith, histogramWithout, live);
    return perMapping <= TARGET_BYTES;
  }

  /**
   * Makes the model and the generator and feeds one into the other until {@code pages} are mapped.
   * Both are reachable from static fields only, never from a local of the measuring frame (a dead
   * local may or may not keep an object alive).
   */
  private static void feed(Variant variant, long pages) {
    generator = variant.kind().createMapOnly(Workloads.SEED);
    model = new IommuModel(Workloads.modelConfig(), ModelListener.NONE);
    mappedPages = 0;
    generator.start(event -> apply(event, variant.events()));
    while (mappedPages < pages) generator.next(event -> apply(event, variant.events()));
    model.finish();
  }

  /** {live mapped bytes, table pages} of the model's page tables. */
  private static long[] pageTableSize() {
    long[] size = new long[2];
    for (Domain domain : model.domains()) {
      size[0] += domain.pageTable().liveMappedBytes();
      size[1] += domain.pageTable().liveTablePages();
    }
    return size;
  }

  private static boolean isNotIova(IommuEvent event) {
    EventType type = event.getType();
    return type != EventType.IOVA_DOMAIN_INIT
        && type != EventType.IOVA_RESERVE
        && type != EventType.IOVA_ALLOC
        && type != EventType.IOVA_FREE;
  }

  private static void apply(IommuEvent event, Predicate<IommuEvent> filter) {
    if (event.getType() == EventType.MAP)
      mappedPages += ((Mapping) event.getPayload()).getSize() >> 12;
    if (filter.test(event)) model.apply(event);
  }

  /** Used heap after full collections, once it stops shrinking. */
  private static long usedHeapAfterGc() {
    MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
    long used = Long.MAX_VALUE;
    for (int i = 0; i < 10; i++) {
      System.gc();
      long now = memory.getHeapMemoryUsage().getUsed();
      if (now >= used) return now;
      used = now;
    }
    return used;
  }

  /**
   * Class name → {instances, bytes} of the live heap ({@code GC.class_histogram}: a full GC first).
   */
  private static Map<String, long[]> histogram() throws JMException {
    String text =
        (String)
            ManagementFactory.getPlatformMBeanServer()
                .invoke(
                    new ObjectName("com.sun.management:type=DiagnosticCommand"),
                    "gcClassHistogram",
                    new Object[] {new String[0]},
                    new String[] {String[].class.getName()});
    Map<String, long[]> classes = new HashMap<>();
    for (String line : text.split("\n")) {
      Matcher m = HISTOGRAM_LINE.matcher(line);
      if (m.find()) {
        classes.put(
            m.group(3), new long[] {Long.parseLong(m.group(1)), Long.parseLong(m.group(2))});
      }
    }
    return classes;
  }

  private static void printHistogramDifference(
      Map<String, long[]> with, Map<String, long[]> without, long live) {
    List<Map.Entry<String, long[]>> differences = new ArrayList<>();
    long total = 0;
    for (Map.Entry<String, long[]> entry : with.entrySet()) {
      long[] before = without.getOrDefault(entry.getKey(), new long[2]);
      long[] difference = {entry.getValue()[0] - before[0], entry.getValue()[1] - before[1]};
      total += difference[1];
      differences.add(Map.entry(entry.getKey(), difference));
    }
    for (Map.Entry<String, long[]> entry : without.entrySet()) {
      if (!with.containsKey(entry.getKey())) total -= entry.getValue()[1];
    }
    differences.sort((a, b) -> Long.compare(b.getValue()[1], a.getValue()[1]));
    System.out.printf(
        "  heap histogram difference: %,d bytes = %.1f bytes per live mapping; largest:%n",
        total, (double) total / live);
    for (Map.Entry<String, long[]> entry :
        differences.subList(0, Math.min(CLASSES_SHOWN, differences.size()))) {
      System.out.printf(
          "    %-60s %,12d instances %,14d bytes  %5.1f B/mapping%n",
          entry.getKey(),
          entry.getValue()[0],
          entry.getValue()[1],
          (double) entry.getValue()[1] / live);
    }
  }
}
