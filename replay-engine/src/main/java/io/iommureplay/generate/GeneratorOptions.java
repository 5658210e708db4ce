package io.iommureplay.generate;

import io.iommureplay.model.ModelConfig;
import io.iommureplay.schema.FindingType;
import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;

/**
 * What {@link WorkloadGenerator} makes. The same options always give the same events, byte for
 * byte.
 *
 * @param workload what the devices do
 * @param events how many events to generate (over all hosts, split evenly): generation stops
 *     starting new work once a host has emitted its share and every injected bug is complete, then
 *     lets the flush-queue timers that are still armed fire, so the trace ends with every lazy
 *     window closed; a few more events than asked for are normal
 * @param cpus CPUs doing DMA work on each host (CPU numbers 0 to cpus − 1)
 * @param lazy lazy invalidation (iommu.strict=0: DMA domains are DMA_FQ, unmaps go through the
 *     flush queue) or strict (DMA: every unmap is flushed before it returns)
 * @param hosts hosts, each with its own devices, domains, sequence numbers and clock
 * @param seed the random seed
 * @param inject bugs to inject: how many of each finding type (spread over the hosts)
 * @param possibleCpus CPUs the kernel considers possible: the flush-queue rings and per-CPU IOVA
 *     caches there are. A replay must use the same number ({@link ModelConfig#cpus()}); the default
 *     is the model's default, {@link ModelConfig#DEFAULT_CPUS}
 * @param eventsPerSecond mean event rate of a host, which sets how much trace time the events span
 * @param recycleInWindow lazy mode: a page freed by an unmap goes back to its pool when the unmap
 *     returns, as in Linux, so page recycling maps it again inside its window (same domain: what
 *     real lazy captures show everywhere); false keeps it out of the pool until the flush (the
 *     other half of a page shared by two 2 KiB NIC buffers is still mapped while one half's window
 *     is open, as in Linux)
 */
public record GeneratorOptions(
    Workload workload,
    long events,
    int cpus,
    boolean lazy,
    int hosts,
    long seed,
    Map<FindingType, Integer> inject,
    int possibleCpus,
    long eventsPerSecond,
    boolean recycleInWindow) {

  public GeneratorOptions {
    Objects.requireNonNull(workload, "workload");
    if (events < 1) throw new IllegalArgumentException("events must be positive: " + events);
    if (cpus < 1) throw new IllegalArgumentException("cpus must be positive: " + cpus);
    if (hosts < 1) throw new IllegalArgumentException("hosts must be positive: " + hosts);
    if (possibleCpus < cpus) {
      throw new IllegalArgumentException(
          "possibleCpus (" + possibleCpus + ") below cpus (" + cpus + ")");
    }
    if (eventsPerSecond < 1000) {
      throw new IllegalArgumentException("eventsPerSecond too low: " + eventsPerSecond);
    }
    EnumMap<FindingType, Integer> copy = new EnumMap<>(FindingType.class);
    for (Map.Entry<FindingType, Integer> e : inject.entrySet()) {
      if (e.getKey() == FindingType.UNKNOWN) throw new IllegalArgumentException("inject UNKNOWN");
      if (e.getValue() < 0) throw new IllegalArgumentException("negative count for " + e.getKey());
      if (e.getValue() > 0) copy.put(e.getKey(), e.getValue());
    }
    inject = Collections.unmodifiableMap(copy);
  }

  /** NIC traffic, 100,000 events, 4 CPUs, strict, one host, seed 1, no bugs. */
  public static GeneratorOptions defaults() {
    return new GeneratorOptions(
        Workload.NIC, 100_000, 4, false, 1, 1, Map.of(), ModelConfig.DEFAULT_CPUS, 200_000, true);
  }

  public GeneratorOptions withWorkload(Workload w) {
    return new GeneratorOptions(
        w, events, cpus, lazy, hosts, seed, inject, possibleCpus, eventsPerSecond, recycleInWindow);
  }

  public GeneratorOptions withEvents(long n) {
    return new GeneratorOptions(
        workload,
        n,
        cpus,
        lazy,
        hosts,
        seed,
        inject,
        possibleCpus,
        eventsPerSecond,
        recycleInWindow);
  }

  public GeneratorOptions withCpus(int n) {
    return new GeneratorOptions(
        workload,
        events,
        n,
        lazy,
        hosts,
        seed,
        inject,
        Math.max(n, possibleCpus),
        eventsPerSecond,
        recycleInWindow);
  }

  public GeneratorOptions withLazy(boolean l) {
    return new GeneratorOptions(
        workload,
        events,
        cpus,
        l,
        hosts,
        seed,
        inject,
        possibleCpus,
        eventsPerSecond,
        recycleInWindow);
  }

  public GeneratorOptions withHosts(int n) {
    return new GeneratorOptions(
        workload,
        events,
        cpus,
        lazy,
        n,
        seed,
        inject,
        possibleCpus,
        eventsPerSecond,
        recycleInWindow);
  }

  public GeneratorOptions withSeed(long s) {
    return new GeneratorOptions(
        workload,
        events,
        cpus,
        lazy,
        hosts,
        s,
        inject,
        possibleCpus,
        eventsPerSecond,
        recycleInWindow);
  }

  /** Replaces the bugs to inject. */
  public GeneratorOptions withInject(Map<FindingType, Integer> bugs) {
    return new GeneratorOptions(
        workload,
        events,
        cpus,
        lazy,
        hosts,
        seed,
        bugs,
        possibleCpus,
        eventsPerSecond,
        recycleInWindow);
  }

  /** Adds {@code count} bugs of {@code type} to inject. */
  public GeneratorOptions withInjected(FindingType type, int count) {
    EnumMap<FindingType, Integer> bugs = new EnumMap<>(FindingType.class);
    bugs.putAll(inject);
    bugs.merge(type, count, Integer::sum);
    return withInject(bugs);
  }

  public GeneratorOptions withPossibleCpus(int n) {
    return new GeneratorOptions(
        workload, events, cpus, lazy, hosts, seed, inject, n, eventsPerSecond, recycleInWindow);
  }

  public GeneratorOptions withEventsPerSecond(long rate) {
    return new GeneratorOptions(
        workload, events, cpus, lazy, hosts, seed, inject, possibleCpus, rate, recycleInWindow);
  }

  public GeneratorOptions withRecycleInWindow(boolean r) {
    return new GeneratorOptions(
        workload, events, cpus, lazy, hosts, seed, inject, possibleCpus, eventsPerSecond, r);
  }

  /** Bugs to inject over all hosts. */
  public int injectedTotal() {
    return inject.values().stream().mapToInt(Integer::intValue).sum();
  }
}
