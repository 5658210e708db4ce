package io.iommureplay.generate;

import static org.assertj.core.api.Assertions.assertThat;

import io.iommureplay.schema.FindingType;
import io.iommureplay.schema.IommuEvent;
import org.junit.jupiter.api.Test;

/** How fast events come out (printed, not asserted: the machine is shared). */
class GenerationRateTest {

  @Test
  void oneMillionEvents() {
    for (Workload w : new Workload[] {Workload.MIX, Workload.NIC}) {
      GeneratorOptions o =
          GeneratorOptions.defaults()
              .withWorkload(w)
              .withLazy(true)
              .withCpus(8)
              .withEvents(1_000_000)
              .withSeed(5);
      if (w == Workload.MIX) {
        for (FindingType t : FindingType.values()) {
          if (t != FindingType.UNKNOWN) o = o.withInjected(t, 5);
        }
      }
      long start = System.nanoTime();
      WorkloadGenerator g = new WorkloadGenerator(o);
      long n = 0;
      long last = 0;
      while (g.hasNext()) {
        IommuEvent e = g.next();
        n++;
        last = e.getTsNs();
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      Runtime rt = Runtime.getRuntime();
      System.out.printf(
          "generate %s lazy, 8 CPUs%s: %,d events in %.2f s = %,.0f events/s; trace spans %.2f s;"
              + " heap in use %d MiB%n",
          w,
          w == Workload.MIX ? ", 5 bugs of each type" : "",
          n,
          seconds,
          n / seconds,
          (last - HostGenerator.START_NS) / 1e9,
          (rt.totalMemory() - rt.freeMemory()) >> 20);
      assertThat(n).isGreaterThanOrEqualTo(1_000_000);
      if (w == Workload.MIX) assertThat(g.labels()).hasSize(5 * 19);
    }
  }
}
