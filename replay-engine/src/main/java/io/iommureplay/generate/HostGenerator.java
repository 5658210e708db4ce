package io.iommureplay.generate;

import io.iommureplay.model.iotlb.PsiAlignment;
import io.iommureplay.schema.Attribution;
import io.iommureplay.schema.DomainType;
import io.iommureplay.schema.EventType;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.TableWalk;
import io.iommureplay.schema.TraceMarker;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * One generated host: its devices and domains, the normal traffic of its actors, the injected bugs,
 * one clock and one sequence. Events come out in sequence order with non-decreasing times; {@link
 * #fill()} makes the next few.
 */
final class HostGenerator {
  /** Trace time of a host's first event. */
  static final long START_NS = 1_000_000_000L;

  /** Physical memory: a region per domain, above 4 GiB. */
  static final long PHYS_BASE = 1L << 32;

  static final long PHYS_REGION = 64L << 30;

  final String host;
  final int index;
  final GeneratorOptions opt;
  final SplittableRandom rnd;
  final int possibleCpus;
  final int cpus;
  final long budget;
  final PsiAlignment psi = new PsiAlignment(PsiAlignment.Rule.SHARED_BITS, PsiAlignment.QEMU_MAMV);

  /** Table pages of all domains of the host (below 4 GiB, like early kernel allocations). */
  final PhysPool tablePages = new PhysPool(1L << 30, 1L << 30);

  final ArrayDeque<IommuEvent> out = new ArrayDeque<>();
  private final Consumer<Label> labelSink;

  long now = START_NS;
  long seq;
  long emitted;
  IommuEvent lastEvent;

  final List<GenDomain> domains = new ArrayList<>();
  final List<GenDomain> lazyDomains = new ArrayList<>();
  final List<Actor> actors = new ArrayList<>();
  private double[] cumulative = new double[0];

  private final PriorityQueue<Injection> tasks =
      new PriorityQueue<>(
          Comparator.comparingLong((Injection i) -> i.wakeNs).thenComparingLong(i -> i.order));
  int pendingInjections;
  long injectionOrder;

  /** Normal traffic continues at least until then (time after the last injected bug). */
  long minEndNs;

  private long nextOpNs = START_NS;

  /**
   * Traffic comes in bursts: busy periods (mean {@link #BUSY_MEAN_NS}) at 1 / {@link #DUTY} times
   * the mean rate, separated by idle periods, so the mean rate is the one asked for.
   */
  static final double DUTY = 0.3;

  static final long BUSY_MEAN_NS = 8_000_000L;

  private long busyUntilNs;
  private long nextWalkNs;
  private final double meanEventGapNs;
  private boolean finished;
  private int nextDomainId = 1;
  private int nextGroupId = 1;
  private final Devices devices = new Devices();

  final Workloads workloads;

  HostGenerator(GeneratorOptions opt, int index, long budget, Consumer<Label> labelSink) {
    this.opt = opt;
    this.index = index;
    this.host = "host" + index;
    this.budget = budget;
    this.labelSink = labelSink;
    this.rnd = new SplittableRandom(mix(opt.seed(), index));
    this.possibleCpus = opt.possibleCpus();
    this.cpus = opt.cpus();
    this.meanEventGapNs = 1e9 / opt.eventsPerSecond();
    emit(
        EventType.MARKER,
        0,
        null,
        null,
        Attribution.NOT_NEEDED,
        new TraceMarker(
            "iommu-replay generate: workload=%s cpus=%d possible_cpus=%d mode=%s seed=%d"
                .formatted(
                    opt.workload(),
                    cpus,
                    possibleCpus,
                    opt.lazy() ? "lazy" : "strict",
                    opt.seed())));
    this.workloads = new Workloads(this);
    workloads.build(opt.workload());
    InjectionPlanner.plan(this);
    for (Actor a : actors) a.start();
    rebuildWeights();
    nextOpNs = now;
    nextWalkNs = now + expNs(50_000_000L);
  }

  private static long mix(long seed, int index) {
    long z = seed * 0x9E3779B97F4A7C15L + index * 0xBF58476D1CE4E5B9L + 0x94D049BB133111EBL;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  // ---- devices and domains ----

  /** A new device name on {@code bus} (PCI BDF as the kernel prints it). */
  String newDevice(int bus) {
    return devices.next(bus);
  }

  /**
   * A new domain for {@code device}, set up now (its setup events emitted on CPU 0).
   *
   * @param dmaMaskBits the device's DMA mask width (64 for most)
   */
  GenDomain newDomain(String device, DomainType type, int dmaMaskBits) {
    long id = nextDomainId++;
    long maskPfn = dmaMaskBits >= 64 ? Long.MAX_VALUE >>> 12 : (1L << (dmaMaskBits - 12)) - 1;
    PhysPool pool = new PhysPool(PHYS_BASE + (id - 1) * PHYS_REGION, PHYS_REGION);
    GenDomain d = new GenDomain(this, id, device, type, nextGroupId++, pool, maskPfn);
    domains.add(d);
    if (d.lazy) lazyDomains.add(d);
    d.setup(0);
    return d;
  }

  /** An SVA domain (no page table of its own in the model: the IOMMU walks the CPU's tables). */
  long newSvaDomainId() {
    return nextDomainId++;
  }

  void addActor(Actor a) {
    actors.add(a);
  }

  void rebuildWeights() {
    cumulative = new double[actors.size()];
    double sum = 0;
    for (int i = 0; i < actors.size(); i++) {
      sum += actors.get(i).weight;
      cumulative[i] = sum;
    }
  }

  // ---- time and events ----

  /** Moves the clock on by {@code lo..hi} ns; returns the new time. */
  long tick(long lo, long hi) {
    now += lo + (hi > lo ? rnd.nextLong(hi - lo + 1) : 0);
    return now;
  }

  long expNs(long mean) {
    return (long) (-Math.log(1 - rnd.nextDouble()) * mean);
  }

  IommuEvent emit(
      EventType type, int cpu, GenDomain d, String device, Attribution attr, Object payload) {
    return emit(type, cpu, d == null ? -1 : d.id, device, attr, payload);
  }

  IommuEvent emit(
      EventType type, int cpu, long domain, String device, Attribution attr, Object payload) {
    IommuEvent e = new IommuEvent(host, ++seq, now, cpu, type, "", domain, device, attr, payload);
    out.add(e);
    emitted++;
    lastEvent = e;
    return e;
  }

  void label(Label label) {
    labelSink.accept(label);
  }

  int randomCpu() {
    return rnd.nextInt(cpus);
  }

  /** A CPU other than {@code cpu} (the same one on a one-CPU host). */
  int otherCpu(int cpu) {
    return cpus == 1 ? cpu : (cpu + 1 + rnd.nextInt(cpus - 1)) % cpus;
  }

  /**
   * Fires every flush-queue timer due by {@code limit}, earliest first, each at its due time (or
   * now, if that has passed).
   */
  void fireDueTimers(long limit) {
    fireDueTimers(limit, 0);
  }

  /**
   * Fires every flush-queue timer due by {@code limit} or by {@code marginNs} after the clock,
   * which firing moves on (a timer's reaps take time): afterwards none is due within the margin.
   */
  void fireDueTimers(long limit, long marginNs) {
    while (true) {
      limit = Math.max(limit, now + marginNs);
      GenDomain first = null;
      long due = Long.MAX_VALUE;
      for (int i = 0; i < lazyDomains.size(); i++) {
        GenDomain d = lazyDomains.get(i);
        long t = d.timerDueNs();
        if (t < due) {
          due = t;
          first = d;
        }
      }
      if (first == null || due > limit) return;
      if (due > now) now = due;
      first.fireTimer(due);
    }
  }

  // ---- the main loop ----

  /** Generates until at least one event is waiting or the host is done; false when done. */
  boolean fill() {
    while (out.isEmpty()) {
      if (finished) return false;
      step();
    }
    return true;
  }

  private void step() {
    if (emitted >= budget && pendingInjections == 0 && now >= minEndNs) {
      // Let the armed timers fire: every lazy window of the trace closes.
      fireDueTimers(Long.MAX_VALUE);
      finished = true;
      return;
    }
    Injection task = tasks.peek();
    long taskAt = task == null ? Long.MAX_VALUE : task.wakeNs;
    long opAt = Math.min(nextOpNs, nextWalkNs);
    long t = Math.min(taskAt, opAt);
    fireDueTimers(t); // on time, even across an idle period
    if (t > now) now = t;
    long before = emitted;
    if (taskAt <= opAt) {
      tasks.poll();
      runTask(task);
      nextOpNs = Math.max(nextOpNs, now + 500);
    } else if (nextWalkNs <= nextOpNs) {
      walk();
      nextWalkNs = now + expNs(50_000_000L);
    } else {
      normalOp();
      long n = Math.max(1, emitted - before);
      nextOpNs = now + Math.max(200, expNs((long) (n * meanEventGapNs * DUTY)));
      if (nextOpNs >= busyUntilNs) {
        nextOpNs += expNs((long) (BUSY_MEAN_NS * (1 - DUTY) / DUTY));
        busyUntilNs = nextOpNs + expNs(BUSY_MEAN_NS);
      }
    }
  }

  private void normalOp() {
    if (actors.isEmpty()) {
      now += 1_000_000;
      return;
    }
    double total = cumulative[cumulative.length - 1];
    for (int attempt = 0; attempt < 8; attempt++) {
      double r = rnd.nextDouble() * total;
      int i = 0;
      int lo = 0;
      int hi = cumulative.length - 1;
      while (lo < hi) {
        int mid = (lo + hi) >>> 1;
        if (cumulative[mid] > r) hi = mid;
        else lo = mid + 1;
      }
      i = lo;
      Actor a = actors.get(i);
      if (a.runnable()) {
        a.step();
        return;
      }
    }
    now += 20_000; // everything picked was paused
  }

  /** A debugfs dump of one domain's page table (PGTABLE_WALK over the whole IOVA space). */
  private void walk() {
    List<GenDomain> candidates = new ArrayList<>();
    for (GenDomain d : domains) if (d.busyWith == null && !d.paused) candidates.add(d);
    if (candidates.isEmpty()) return;
    GenDomain d = candidates.get(rnd.nextInt(candidates.size()));
    tick(100, 1_000);
    d.walkUntilNs = now + 500_000 + rnd.nextLong(2_500_000);
    emit(
        EventType.PGTABLE_WALK,
        randomCpu(),
        d,
        d.device,
        Attribution.TRACE,
        new TableWalk("debugfs:domain_translation_struct", 0L, 1L << 48, d.walkUntilNs));
  }

  // ---- injections ----

  void schedule(Injection inj) {
    inj.order = injectionOrder++;
    tasks.add(inj);
    pendingInjections++;
  }

  private void runTask(Injection inj) {
    if (inj.phase == 0) {
      boolean busy = false;
      long walkEnd = 0;
      for (GenDomain d : inj.lanes()) {
        if (d.busyWith != null && d.busyWith != inj) busy = true;
        walkEnd = Math.max(walkEnd, d.walkUntilNs);
      }
      if (busy || walkEnd > now) {
        inj.wakeNs = Math.max(walkEnd, now + 1_000_000 + rnd.nextLong(1_000_000));
        tasks.add(inj);
        return;
      }
      for (GenDomain d : inj.lanes()) d.busyWith = inj;
    }
    long next = inj.step();
    if (next == Injection.DONE) {
      for (GenDomain d : inj.lanes()) {
        if (d.busyWith == inj) d.busyWith = null;
      }
      pendingInjections--;
      minEndNs = Math.max(minEndNs, now + inj.tailNs());
    } else {
      inj.wakeNs = Math.max(next, now + 1);
      tasks.add(inj);
    }
  }

  /** Trace time the host's events are expected to span. */
  long expectedDurationNs() {
    return (long) (budget * meanEventGapNs);
  }

  /** Names devices bus by bus: 0000:BB:DD.F. */
  private static final class Devices {
    private final int[] nextSlot = new int[256];

    String next(int bus) {
      int slot = nextSlot[bus]++;
      return "0000:%02x:%02x.%d".formatted(bus, slot / 8, slot % 8);
    }
  }
}
