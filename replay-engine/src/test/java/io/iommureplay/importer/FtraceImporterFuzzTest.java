package io.iommureplay.importer;

import static org.assertj.core.api.Assertions.assertThat;

import io.iommureplay.schema.Attribution;
import io.iommureplay.schema.EventType;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.testing.SharedTraces;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.StringReader;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Random and mutated input never breaks the ftrace importer: nothing escapes {@code read} or {@code
 * finish}, every line is accounted for exactly once (as a header, an event, a line of an unknown
 * kind or a rejected line), every rejection is a deliberate one (never an "internal error"), and
 * events leave in strictly increasing seq. Deterministic: each test draws from a java.util.Random
 * with a fixed seed.
 */
class FtraceImporterFuzzTest {
  private static final long SEED = 0x5EED_1033_0000L;

  /** How many lines of each shared capture feed the mutations. */
  private static final int REAL_LINES_PER_TRACE = 20_000;

  private static List<String> realLines;

  // ---- (a) real lines, mutated ----

  @Test
  void mutatedRealLinesNeverBreakTheImport() {
    Random rnd = new Random(SEED);
    List<String> real = realLines();
    StringBuilder text = new StringBuilder();
    int mutated = 0;
    for (int i = 0; i < 200_000; i++) {
      // Runs of intact lines between the mutated ones keep the importer in the states real traces
      // reach.
      String line = real.get(rnd.nextInt(real.size()));
      if (rnd.nextInt(3) > 0) {
        line = mutate(line, rnd, real);
        mutated++;
      }
      text.append(line).append('\n');
    }

    Run run = Run.of(text.toString());

    assertEveryLineAccountedFor(text.toString(), run);
    // the mutations did reach the parsers: plenty of rejections, and still plenty of events
    assertThat(run.stats.malformedLines()).isGreaterThan(mutated / 10);
    assertThat(run.stats.events()).isGreaterThan(mutated / 10);
  }

  // ---- (b) random printable garbage ----

  @Test
  void randomGarbageNeverBreaksTheImport() {
    Random rnd = new Random(SEED + 1);
    StringBuilder text = new StringBuilder();
    long ts = 1_000_000;
    for (int i = 0; i < 100_000; i++) {
      ts += rnd.nextInt(50);
      String line =
          switch (rnd.nextInt(4)) {
            case 0 -> printable(rnd, rnd.nextInt(160));
            case 1 -> header(rnd, ts) + pick(rnd, EVENTS) + ": " + printable(rnd, rnd.nextInt(120));
            case 2 -> header(rnd, ts) + pick(rnd, EVENTS) + ": " + kprobeBody(rnd);
            default -> header(rnd, ts) + pick(rnd, DMA_EVENTS) + ": " + dmaBody(rnd);
          };
      text.append(line).append('\n');
    }

    Run run = Run.of(text.toString());

    assertEveryLineAccountedFor(text.toString(), run);
    assertThat(run.stats.malformedLines()).isPositive();
    assertThat(run.stats.events()).isPositive();
  }

  // ---- (c) valid lines, shuffled ----

  @Test
  void validLinesInAnyOrderAreAllImported() {
    List<String> lines = new ArrayList<>(realLines());
    Run inOrder = Run.of(String.join("\n", lines));
    Collections.shuffle(lines, new Random(SEED + 2));
    String text = String.join("\n", lines);

    Run shuffled = Run.of(text);

    assertEveryLineAccountedFor(text, shuffled);
    // each valid line still makes its one event, of the same kind, whatever comes before it
    assertThat(shuffled.rejected).isEmpty();
    assertThat(shuffled.stats.unknownKinds()).isEmpty();
    assertThat(shuffled.stats.eventsBySource()).isEqualTo(inOrder.stats.eventsBySource());
    assertThat(shuffled.stats.events()).isEqualTo(lines.size() - shuffled.stats.headerLines());
  }

  // ---- the invariant ----

  /**
   * Every line is exactly one of: header or blank line, a line that made one event, a line of an
   * unknown kind, a rejected line. Events reach the sink exactly once each, in strictly increasing
   * seq (their line number).
   */
  private static void assertEveryLineAccountedFor(String text, Run run) {
    long lines = text.lines().count();
    ImportStats stats = run.stats;
    long unknown = stats.unknownKinds().values().stream().mapToLong(Long::longValue).sum();

    assertThat(stats.lines()).isEqualTo(lines);
    assertThat(stats.headerLines() + stats.events() + unknown + stats.malformedLines())
        .as("header + events + unknown + malformed = lines")
        .isEqualTo(lines);
    assertThat((long) run.events.size()).as("events delivered").isEqualTo(stats.events());
    assertThat((long) run.rejected.size()).as("lines rejected").isEqualTo(stats.malformedLines());

    assertThat(run.rejected)
        .as("rejections by a parser bug")
        .filteredOn(r -> r.reason().startsWith("internal"))
        .isEmpty();
    assertThat(run.events)
        .extracting(IommuEvent::getSeq)
        .isSortedAccordingTo(Long::compare)
        .doesNotHaveDuplicates();
    assertThat(run.rejected)
        .extracting(ImportSink.RejectedLine::lineNumber)
        .isSortedAccordingTo(Long::compare)
        .doesNotHaveDuplicates();
    if (!run.events.isEmpty()) {
      assertThat(run.events.get(0).getSeq()).isPositive();
      assertThat(run.events.get(run.events.size() - 1).getSeq()).isLessThanOrEqualTo(lines);
    }
    Set<Long> eventLines = run.events.stream().map(IommuEvent::getSeq).collect(Collectors.toSet());
    assertThat(run.rejected)
        .as("a rejected line makes no event")
        .noneMatch(r -> eventLines.contains(r.lineNumber()));

    Map<EventType, Long> byType = new EnumMap<>(EventType.class);
    Map<Attribution, Long> mapUnmap = new EnumMap<>(Attribution.class);
    for (IommuEvent e : run.events) {
      byType.merge(e.getType(), 1L, Long::sum);
      assertThat(e.getCpu()).isBetween(0, FtraceLine.MAX_CPU);
      assertThat(e.getTsNs()).isNotNegative();
      if (e.getType() == EventType.MAP || e.getType() == EventType.UNMAP) {
        mapUnmap.merge(e.getAttribution(), 1L, Long::sum);
        assertThat(e.getAttribution() == Attribution.MISSING)
            .as("MISSING exactly when no domain: %s", e)
            .isEqualTo(e.getDomain() < 0);
      }
    }
    assertThat(byType).isEqualTo(stats.eventsByType());
    assertThat(mapUnmap)
        .as("map/unmap attribution counted once each")
        .isEqualTo(stats.mapUnmapAttribution());
  }

  // ---- mutations ----

  private static String mutate(String line, Random rnd, List<String> real) {
    int count = 1 + rnd.nextInt(3);
    for (int i = 0; i < count; i++) {
      line =
          switch (rnd.nextInt(13)) {
            case 0 -> flipChars(line, rnd);
            case 1 -> line.substring(0, rnd.nextInt(line.length() + 1));
            case 2 -> duplicateToken(line, rnd);
            case 3 -> deleteToken(line, rnd);
            case 4 -> swapTokens(line, rnd);
            case 5 -> hugeNumber(line, rnd);
            case 6 -> insert(line, rnd, pick(rnd, NON_ASCII));
            case 7 -> pick(rnd, BLANKS);
            case 8 -> replaceEventName(line, rnd);
            case 9 -> replaceValue(line, rnd);
            case 10 -> insert(line, rnd, pick(rnd, PUNCTUATION));
            case 11 -> splice(line, real.get(rnd.nextInt(real.size())), rnd);
            default -> replaceFunction(line, rnd);
          };
    }
    return line;
  }

  private static String flipChars(String line, Random rnd) {
    if (line.isEmpty()) return line;
    char[] chars = line.toCharArray();
    for (int n = 1 + rnd.nextInt(4); n > 0; n--) {
      char c = (char) (rnd.nextBoolean() ? 0x20 + rnd.nextInt(0x5f) : rnd.nextInt(0x250));
      chars[rnd.nextInt(chars.length)] = c == '\n' || c == '\r' ? '?' : c;
    }
    return new String(chars);
  }

  private static String duplicateToken(String line, Random rnd) {
    List<String> t = tokens(line);
    if (t.isEmpty()) return line;
    int i = rnd.nextInt(t.size());
    t.add(rnd.nextInt(t.size() + 1), t.get(i));
    return String.join(" ", t);
  }

  private static String deleteToken(String line, Random rnd) {
    List<String> t = tokens(line);
    if (t.isEmpty()) return line;
    t.remove(rnd.nextInt(t.size()));
    return String.join(" ", t);
  }

  private static String swapTokens(String line, Random rnd) {
    List<String> t = tokens(line);
    if (t.size() < 2) return line;
    Collections.swap(t, rnd.nextInt(t.size()), rnd.nextInt(t.size()));
    return String.join(" ", t);
  }

  /** Replaces a run of digits (CPU, timestamp, any value) by a very long one. */
  private static String hugeNumber(String line, Random rnd) {
    List<int[]> runs = new ArrayList<>();
    for (int i = 0; i < line.length(); ) {
      if (Character.isDigit(line.charAt(i))) {
        int j = i;
        while (j < line.length() && Character.isDigit(line.charAt(j))) j++;
        runs.add(new int[] {i, j});
        i = j;
      } else {
        i++;
      }
    }
    if (runs.isEmpty()) return line;
    int[] run = runs.get(rnd.nextInt(runs.size()));
    String digits = rnd.nextBoolean() ? "18446744073709551616" : "9".repeat(17 + rnd.nextInt(30));
    return line.substring(0, run[0]) + digits + line.substring(run[1]);
  }

  private static String replaceEventName(String line, Random rnd) {
    int colon = line.indexOf(": ");
    int next = colon < 0 ? -1 : line.indexOf(": ", colon + 2);
    if (next < 0) return line;
    return line.substring(0, colon + 2) + pick(rnd, EVENTS) + line.substring(next);
  }

  /** Replaces the value of one name=value field. */
  private static String replaceValue(String line, Random rnd) {
    List<Integer> equals = new ArrayList<>();
    for (int i = line.indexOf('='); i >= 0; i = line.indexOf('=', i + 1)) equals.add(i);
    if (equals.isEmpty()) return line;
    int at = equals.get(rnd.nextInt(equals.size())) + 1;
    int end = line.indexOf(' ', at);
    return line.substring(0, at) + value(rnd) + (end < 0 ? "" : line.substring(end));
  }

  private static String replaceFunction(String line, Random rnd) {
    int open = line.indexOf('(');
    int plus = open < 0 ? -1 : line.indexOf('+', open);
    if (plus < 0) return line;
    return line.substring(0, open + 1) + pick(rnd, FUNCTIONS) + line.substring(plus);
  }

  private static String splice(String line, String other, Random rnd) {
    return line.substring(0, rnd.nextInt(line.length() + 1))
        + other.substring(rnd.nextInt(other.length() + 1));
  }

  private static String insert(String line, Random rnd, String what) {
    int at = rnd.nextInt(line.length() + 1);
    return line.substring(0, at) + what + line.substring(at);
  }

  private static List<String> tokens(String line) {
    return new ArrayList<>(List.of(line.trim().split(" +")));
  }

  // ---- random lines ----

  private static String header(Random rnd, long tsMicros) {
    int cpu = rnd.nextInt(20) == 0 ? rnd.nextInt(100_000) : rnd.nextInt(4);
    return String.format(
        "%16s-%-7d [%03d] %s %d.%06d: ",
        pick(rnd, COMMS),
        rnd.nextInt(5000),
        cpu,
        pick(rnd, FLAGS),
        tsMicros / 1_000_000,
        tsMicros % 1_000_000);
  }

  private static String kprobeBody(Random rnd) {
    String function = pick(rnd, FUNCTIONS);
    StringBuilder b =
        new StringBuilder(
            rnd.nextBoolean()
                ? "(" + function + "+0x0/0x90)"
                : "(caller+0x"
                    + Integer.toHexString(rnd.nextInt(256))
                    + "/0x100 <- "
                    + function
                    + ")");
    for (int n = rnd.nextInt(7); n > 0; n--)
      b.append(' ').append(pick(rnd, KPROBE_KEYS)).append('=').append(value(rnd));
    return b.toString();
  }

  private static String dmaBody(Random rnd) {
    StringBuilder b = new StringBuilder(pick(rnd, DEVICES));
    for (int n = rnd.nextInt(8); n > 0; n--) {
      String key = pick(rnd, DMA_KEYS);
      b.append(' ').append(key).append('=');
      b.append(
          key.endsWith("s")
              ? array(rnd)
              : key.equals("nents") || key.equals("ents")
                  ? rnd.nextInt(200) + "/" + rnd.nextInt(200)
                  : value(rnd));
    }
    return b.toString();
  }

  private static String array(Random rnd) {
    return switch (rnd.nextInt(5)) {
      case 0 -> "{}";
      case 1 -> "{" + value(rnd) + "}";
      case 2 -> "{0x" + Long.toHexString(rnd.nextLong()) + "," + value(rnd) + "";
      default ->
          rnd.ints(1 + rnd.nextInt(5), 0, 1 << 20)
              .mapToObj(i -> "0x" + Integer.toHexString(i << 12))
              .collect(Collectors.joining(",", "{", "}"));
    };
  }

  private static String value(Random rnd) {
    Supplier<String> hex = () -> "0x" + Long.toHexString(rnd.nextLong());
    return switch (rnd.nextInt(12)) {
      case 0 -> hex.get();
      case 1 -> Long.toHexString(rnd.nextLong() >>> rnd.nextInt(64));
      case 2 -> Integer.toString(rnd.nextInt(100_000));
      case 3 -> "-" + rnd.nextInt(1000);
      case 4 -> "0x" + "f".repeat(17 + rnd.nextInt(10));
      case 5 -> "9".repeat(19 + rnd.nextInt(10));
      case 6 -> "(fault)";
      case 7 -> "\"" + pick(rnd, DEVICES) + "\"";
      case 8 -> "\"" + pick(rnd, DEVICES);
      case 9 -> "";
      case 10 -> "0x";
      default -> printable(rnd, rnd.nextInt(12)).replace(" ", "");
    };
  }

  private static String printable(Random rnd, int length) {
    StringBuilder b = new StringBuilder(length);
    for (int i = 0; i < length; i++) b.append((char) (0x20 + rnd.nextInt(0x5f)));
    return b.toString();
  }

  private static String pick(Random rnd, String[] from) {
    return from[rnd.nextInt(from.length)];
  }

  private static final String[] EVENTS = {
    "map",
    "unmap",
    "io_page_fault",
    "attach_device_to_domain",
    "detach_device_from_domain",
    "add_device_to_group",
    "remove_device_from_group",
    "qi_submit",
    "cache_tag_assign",
    "cache_tag_unassign",
    "cache_tag_flush_all",
    "cache_tag_flush_range",
    "cache_tag_flush_range_np",
    "tracing_mark_write",
    "dma_map_page",
    "dma_unmap_page",
    "dma_map_sg",
    "dma_map_sg_err",
    "dma_unmap_sg",
    "dma_alloc_sgt",
    "dma_sync_sg_for_cpu",
    "dma_fence_init",
    "iommu_dma_map",
    "iommu_dma_map_ret",
    "alloc_iova_fast",
    "alloc_iova_fast_ret",
    "fq_ring_free",
    "sched_switch",
  };
  private static final String[] DMA_EVENTS = {
    "dma_map_page",
    "dma_map_resource",
    "dma_map_phys",
    "dma_unmap_page",
    "dma_unmap_phys",
    "dma_alloc",
    "dma_alloc_sgt",
    "dma_alloc_sgt_err",
    "dma_free",
    "dma_free_sgt",
    "dma_map_sg",
    "dma_map_sg_err",
    "dma_unmap_sg",
    "dma_sync_single_for_cpu",
    "dma_sync_sg_for_device",
  };
  private static final String[] FUNCTIONS = {
    "init_iova_domain",
    "reserve_iova",
    "alloc_iova",
    "alloc_iova_fast",
    "free_iova_fast",
    "free_iova",
    "remove_iova",
    "fq_flush_timeout",
    "fq_flush_iotlb",
    "fq_ring_free",
    "queue_iova",
    "intel_flush_iotlb_all",
    "intel_iommu_tlb_sync",
    "iommu_flush_iotlb_psi",
    "__iommu_dma_map",
    "__iommu_dma_unmap",
    "iommu_dma_map_sg",
    "iommu_dma_unmap_sg",
    "do_sys_openat2",
  };
  private static final String[] KPROBE_KEYS = {
    "iovad",
    "granule",
    "start_pfn",
    "pfn_lo",
    "pfn_hi",
    "size",
    "limit_pfn",
    "size_aligned",
    "flush_rcache",
    "pfn",
    "timer",
    "cookie",
    "fq",
    "domain",
    "start",
    "end",
    "pgsize",
    "iommu",
    "pages",
    "ih",
    "map",
    "dev",
    "phys",
    "prot",
    "dma_mask",
    "dma",
    "nents",
    "dir",
    "mapped",
    "sg_dma",
    "sg_dma_len",
    "freelist",
  };
  private static final String[] DMA_KEYS = {
    "dir",
    "dma_addr",
    "size",
    "phys_addr",
    "attrs",
    "virt_addr",
    "flags",
    "dma_addrs",
    "sizes",
    "phys_addrs",
    "nents",
    "ents",
    "err",
  };
  private static final String[] DEVICES = {
    "0000:00:04.0", "0000:00:05.0", "0000:00:1f.2", "nvme0", ""
  };
  private static final String[] COMMS = {
    "<idle>", "kworker/u4:1", "<...>", "my-prog [x]", "worker-3 [1]", "fio"
  };
  private static final String[] FLAGS = {
    ".....", "d.h1.", "..s..", "d.Z..", "dNs2.", "", "d..1", "X"
  };
  private static final String[] NON_ASCII = {
    "é",
    "\u0000",
    "\u00a0",
    "\u2028",
    "\ufeff",
    "\ud800",
    "\ud83d\ude00",
    "\u0663",
    "\uff11",
    "\u0085",
  };
  private static final String[] BLANKS = {"", " ", "    ", "\t", " \t ", "#", "   # comment"};
  private static final String[] PUNCTUATION = {
    "=", "==", "\"", "{", "}", "[", "]", "(", ")", ":", ": ", "-", "0x", ",", "/", " <- ",
    "(fault)", "[000]", "-1 [0]"
  };

  // ---- running the importer ----

  private static synchronized List<String> realLines() {
    if (realLines == null) {
      List<String> lines = new ArrayList<>();
      for (String name : List.of("lazy-smp2", "strict")) {
        try (BufferedReader in = TraceInput.open(SharedTraces.trace(name))) {
          String line;
          for (int i = 0; i < REAL_LINES_PER_TRACE && (line = in.readLine()) != null; i++)
            lines.add(line);
        } catch (IOException e) {
          throw new IllegalStateException(e);
        }
      }
      realLines = List.copyOf(lines);
    }
    return realLines;
  }

  /** One import of some text, with what reached the sink. */
  private record Run(
      List<IommuEvent> events, List<ImportSink.RejectedLine> rejected, ImportStats stats) {
    static Run of(String text) {
      List<IommuEvent> events = new ArrayList<>();
      List<ImportSink.RejectedLine> rejected = new ArrayList<>();
      FtraceImporter importer =
          new FtraceImporter(
              "fuzz",
              new ImportSink() {
                @Override
                public void event(IommuEvent event) {
                  events.add(event);
                }

                @Override
                public void rejected(RejectedLine line) {
                  rejected.add(line);
                }
              });
      try {
        importer.read("fuzz", new BufferedReader(new StringReader(text)));
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
      importer.finish();
      return new Run(events, rejected, importer.stats());
    }
  }
}
