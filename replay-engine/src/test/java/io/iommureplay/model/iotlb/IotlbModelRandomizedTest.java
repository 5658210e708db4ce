package io.iommureplay.model.iotlb;

import static io.iommureplay.model.iotlb.IotlbModel.NO_PASID;
import static io.iommureplay.model.iotlb.IotlbTesting.K4;
import static io.iommureplay.model.iotlb.IotlbTesting.NIC;
import static io.iommureplay.model.iotlb.IotlbTesting.NIC_SID;
import static io.iommureplay.model.iotlb.IotlbTesting.NVME;
import static io.iommureplay.model.iotlb.IotlbTesting.NVME_SID;
import static org.assertj.core.api.Assertions.assertThat;

import io.iommureplay.model.iotlb.IotlbConfig.Mode;
import io.iommureplay.model.iotlb.IotlbTesting.Recorder;
import io.iommureplay.schema.FlushScope;
import io.iommureplay.schema.IotlbInvalidation;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Thousands of random unmaps, device accesses and invalidations of every scope on a second-stage
 * and a first-stage domain with an ATS device, checked against a reference that keeps, per 4 KiB
 * page, the names of the caches that may hold it, and applies the scope rules page by page.
 */
class IotlbModelRandomizedTest {

  private static final int OPERATIONS = 6000;
  private static final int REGION_PAGES = 512;
  private static final int MAX_RUN_PAGES = 24;
  private static final long SECOND = 1;
  private static final long FIRST = 2;
  private static final long[] DOMAINS = {SECOND, FIRST};

  /** The reference: per domain, per open window (by seq) and per live page, cache names by page. */
  private final Map<Long, Map<Long, Map<Long, Set<String>>>> windows = new HashMap<>();

  private final Map<Long, Map<Long, Set<String>>> live = new HashMap<>();
  private final Map<Long, Set<Long>> mapped = new HashMap<>();
  private final Map<Long, Window> modelWindows = new HashMap<>();
  private final Recorder recorder = new Recorder();
  private Random random;
  private IotlbModel model;
  private Mode mode;

  @ParameterizedTest
  @EnumSource(Mode.class)
  void windowsFollowAPerPageReference(Mode mode) {
    this.mode = mode;
    random = new Random(20_260_122L + mode.ordinal());
    model = new IotlbModel(new IotlbConfig(mode, IotlbConfig.UNLIMITED), recorder);
    model.defineDomain(FIRST, true);
    model.attach(SECOND, NIC, NO_PASID, true);
    model.attach(SECOND, NVME, NO_PASID, false);
    model.attach(FIRST, NIC, NO_PASID, true);
    model.attach(FIRST, NIC, 5, true);
    model.attach(FIRST, NVME, 5, false);
    for (long d : DOMAINS) {
      windows.put(d, new TreeMap<>());
      live.put(d, new HashMap<>());
      mapped.put(d, new HashSet<>());
    }

    for (int seq = 1; seq <= OPERATIONS; seq++) {
      long domain = DOMAINS[random.nextInt(2)];
      int op = random.nextInt(10);
      if (op < 3) {
        unmap(domain, seq);
      } else if (op < 6 && mode == Mode.OBSERVED) {
        access(domain, seq);
      } else {
        invalidate(domain, seq);
      }
      if (seq % 100 == 0) {
        assertSameState();
      }
    }
    assertSameState();
  }

  private void unmap(long domain, int seq) {
    long page = random.nextInt(REGION_PAGES - MAX_RUN_PAGES);
    int pages = 1 + random.nextInt(MAX_RUN_PAGES);
    Map<Long, Set<String>> window = new TreeMap<>();
    for (long p = page; p < page + pages; p++) {
      Set<String> names =
          mode == Mode.CONSERVATIVE ? attachedNames(domain) : live.get(domain).remove(p);
      if (names != null) {
        window.put(p, names);
      }
      mapped.get(domain).remove(p);
    }
    Window w = model.unmap(domain, page * K4, pages * K4, Window.NO_PADDR, 0, seq * 10L, seq);
    assertThat(w != null).as("window at seq %d", seq).isEqualTo(!window.isEmpty());
    if (w != null) {
      windows.get(domain).put((long) seq, window);
      modelWindows.put((long) seq, w);
    }
    assertThat(recorder.take()).isEmpty();
  }

  /** Maps a run (the model is not told), then a device touches part of it at byte granularity. */
  private void access(long domain, int seq) {
    long page = random.nextInt(REGION_PAGES - MAX_RUN_PAGES);
    int pages = 1 + random.nextInt(MAX_RUN_PAGES);
    if (random.nextBoolean()) {
      for (long p = page; p < page + pages; p++) {
        mapped.get(domain).add(p);
      }
    }
    long first = page;
    while (first < page + pages && !mapped.get(domain).contains(first)) {
      first++;
    }
    long last = first;
    while (last + 1 < page + pages && mapped.get(domain).contains(last + 1)) {
      last++;
    }
    if (first == page + pages) {
      return;
    }
    String device = random.nextBoolean() ? NIC : NVME;
    int pasid =
        domain == FIRST ? (device.equals(NVME) || random.nextBoolean() ? 5 : NO_PASID) : NO_PASID;
    long offset = random.nextInt((int) K4);
    long size = 1 + random.nextLong((last - first + 1) * K4 - offset);
    model.deviceAccess(domain, device, pasid, first * K4 + offset, size, seq * 10L, seq);
    for (long p = first; p <= (first * K4 + offset + size - 1) / K4; p++) {
      live.get(domain)
          .computeIfAbsent(p, x -> new TreeSet<>())
          .addAll(requestNames(domain, device, pasid));
    }
  }

  private void invalidate(long domain, int seq) {
    int mask = random.nextInt(7);
    long base = random.nextInt(REGION_PAGES) & -(1L << mask);
    long first = base;
    long last = base + (1L << mask) - 1;
    boolean ih = random.nextBoolean();
    int pasid = random.nextBoolean() ? 5 : NO_PASID;
    boolean nic = random.nextInt(4) != 0;
    Integer sid = random.nextInt(8) == 0 ? null : nic ? NIC_SID : NVME_SID;
    FlushScope scope = FlushScope.values()[1 + random.nextInt(FlushScope.values().length - 1)];
    boolean ranged =
        scope == FlushScope.PAGE
            || scope == FlushScope.PASID_PAGE
            || scope == FlushScope.DEVICE_TLB
            || scope == FlushScope.PASID_DEVICE_TLB;
    IotlbInvalidation inv =
        IotlbTesting.inv(
            scope,
            ranged ? base * K4 : 0,
            ranged ? K4 << mask : 0,
            ranged ? mask : -1,
            ih,
            scope.name().startsWith("PASID") ? pasid : null,
            sid);
    boolean anyDomain =
        scope == FlushScope.GLOBAL || scope.name().endsWith("DEVICE_TLB") && random.nextBoolean();

    List<String> expected = new ArrayList<>();
    for (long d : DOMAINS) {
      if (!anyDomain && d != domain) {
        continue;
      }
      Set<String> names = new HashSet<>();
      boolean whole = !ranged || d == FIRST && scope == FlushScope.PAGE;
      switch (scope) {
        case GLOBAL, DOMAIN, PAGE -> names.addAll(iotlbNames(d));
        case PASID, PASID_PAGE -> names.add(d == FIRST ? "iotlb/" + pasid : "none");
        case DEVICE_TLB -> names.addAll(deviceTlbNames(d, sid, null));
        case PASID_DEVICE_TLB -> names.addAll(deviceTlbNames(d, sid, pasid));
        default -> throw new AssertionError(scope);
      }
      apply(d, names, whole ? 0 : first, whole ? Long.MAX_VALUE : last, seq, expected);
    }

    model.invalidate(anyDomain ? -1 : domain, inv, seq * 10L, seq);

    assertThat(sorted(recorder.take()))
        .as("events of %s at seq %d", inv, seq)
        .isEqualTo(sorted(expected));
  }

  private void apply(
      long domain, Set<String> names, long first, long last, int seq, List<String> expected) {
    for (Map.Entry<Long, Set<String>> page : live.get(domain).entrySet()) {
      if (page.getKey() >= first && page.getKey() <= last) {
        page.getValue().removeAll(names);
      }
    }
    live.get(domain).values().removeIf(Set::isEmpty);
    for (var it = windows.get(domain).entrySet().iterator(); it.hasNext(); ) {
      var window = it.next();
      boolean touched = false;
      for (Map.Entry<Long, Set<String>> page : window.getValue().entrySet()) {
        if (page.getKey() >= first && page.getKey() <= last) {
          touched |= page.getValue().removeAll(names);
        }
      }
      window.getValue().values().removeIf(Set::isEmpty);
      long seqOfWindow = window.getKey();
      if (!touched) {
        continue;
      }
      if (window.getValue().isEmpty()) {
        expected.add(
            "closed %d after %d by %d INVALIDATED"
                .formatted(seqOfWindow, (seq - seqOfWindow) * 10, seq));
        it.remove();
      } else {
        long missed =
            window.getValue().values().stream()
                    .filter(n -> n.stream().anyMatch(names::contains))
                    .count()
                * K4;
        if (missed != 0) {
          expected.add("partly %d missed 0x%x by %d".formatted(seqOfWindow, missed, seq));
        }
      }
    }
  }

  private void assertSameState() {
    for (long d : DOMAINS) {
      Set<Long> open = new TreeSet<>();
      model.forEachOpenWindow(d, w -> open.add(w.seq()));
      assertThat(open).isEqualTo(windows.get(d).keySet());
      for (Map.Entry<Long, Map<Long, Set<String>>> window : windows.get(d).entrySet()) {
        Window w = modelWindows.get(window.getKey());
        Set<Long> pages = new TreeSet<>();
        model.forEachOpenRange(w, (x, first, last) -> addPages(pages, first, last));
        assertThat(pages).isEqualTo(window.getValue().keySet());
        assertThat(w.openBytes()).isEqualTo(pages.size() * K4);
      }
      for (String device : List.of(NIC, NVME)) {
        for (int pasid : new int[] {NO_PASID, 5}) {
          Map<Long, Set<Long>> reachable = new TreeMap<>();
          model.forEachOpenRange(
              d,
              device,
              pasid,
              0,
              REGION_PAGES * K4,
              (w, first, last) ->
                  addPages(reachable.computeIfAbsent(w.seq(), s -> new TreeSet<>()), first, last));
          Set<String> reads = readNames(d, device, pasid);
          Map<Long, Set<Long>> expected = new TreeMap<>();
          windows
              .get(d)
              .forEach(
                  (seq, pages) ->
                      pages.forEach(
                          (page, names) -> {
                            if (names.stream().anyMatch(reads::contains)) {
                              expected.computeIfAbsent(seq, s -> new TreeSet<>()).add(page);
                            }
                          }));
          assertThat(reachable)
              .as("what %s/%d can hit in domain %d", device, pasid, d)
              .isEqualTo(expected);
        }
      }
    }
  }

  private static void addPages(Set<Long> pages, long first, long last) {
    for (long p = first / K4; p <= last / K4; p++) {
      assertThat(pages.add(p)).as("page %d listed twice", p).isTrue();
    }
  }

  // ---- cache names: the scope rules, written out per domain ----

  private static String iotlb(long domain, int pasid) {
    return domain == FIRST ? "iotlb/" + pasid : "iotlb";
  }

  private static Set<String> iotlbNames(long domain) {
    return domain == FIRST ? Set.of("iotlb/0", "iotlb/5") : Set.of("iotlb");
  }

  private static Set<String> attachedNames(long domain) {
    return new TreeSet<>(
        domain == FIRST
            ? Set.of("iotlb/0", "iotlb/5", "dev:NIC/0", "dev:NIC/5")
            : Set.of("iotlb", "dev:NIC/0"));
  }

  private static Set<String> requestNames(long domain, String device, int pasid) {
    return device.equals(NIC)
        ? Set.of(iotlb(domain, pasid), "dev:NIC/" + pasid)
        : Set.of(iotlb(domain, pasid));
  }

  private static Set<String> readNames(long domain, String device, int pasid) {
    return Set.of(iotlb(domain, pasid), (device.equals(NIC) ? "dev:NIC/" : "dev:NVME/") + pasid);
  }

  /** The NIC is the only ATS device; sid null reaches every device. */
  private static Set<String> deviceTlbNames(long domain, Integer sid, Integer pasid) {
    if (sid != null && sid != NIC_SID) {
      return Set.of();
    }
    Set<String> names = new HashSet<>();
    for (int p : domain == FIRST ? new int[] {0, 5} : new int[] {0}) {
      if (pasid == null || pasid == p) {
        names.add("dev:NIC/" + p);
      }
    }
    return names;
  }

  private static List<String> sorted(List<String> events) {
    return events.stream().sorted().toList();
  }
}
