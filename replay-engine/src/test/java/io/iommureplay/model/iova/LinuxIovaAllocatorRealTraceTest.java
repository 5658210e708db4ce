package io.iommureplay.model.iova;

import static org.assertj.core.api.Assertions.assertThat;

import io.iommureplay.model.iova.IovaTraceReplay.DomainResult;
import io.iommureplay.testing.SharedTraces;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Replays the alloc_iova_fast() calls of the real captures (Debian 6.1.0-56, 6.1.192) on every
 * kernel profile: the profile that reproduces the kernel's choices best is the kernel's.
 */
class LinuxIovaAllocatorRealTraceTest {
  private static final List<KernelProfile> PROFILES =
      List.of(
          KernelProfile.LINUX_5_15,
          KernelProfile.LINUX_6_1,
          KernelProfile.LINUX_6_7,
          KernelProfile.DEBIAN_6_1_STABLE);

  @ParameterizedTest
  @CsvSource({"strict, 1, true", "lazy-smp2, 2, false"})
  void modelReturnsTheKernelsPfnAndTheDebianProfileFitsBest(String trace, int cpus, boolean strict)
      throws Exception {
    List<IovaTraceReplay.Op> ops = IovaTraceReplay.load(SharedTraces.trace(trace));
    Map<KernelProfile, Map<Long, DomainResult>> byProfile = new LinkedHashMap<>();
    for (KernelProfile profile : PROFILES) {
      Map<Long, DomainResult> domains = IovaTraceReplay.replay(ops, profile, cpus, strict);
      byProfile.put(profile, domains);
      DomainResult total = total(domains);
      System.out.printf(
          "%s %-18s agreement %.4f%% (%d/%d), %.4f%% without %d after missed frees;"
              + " cache hit/miss predicted %.4f%%; %d frees inferred from unmaps%n",
          trace,
          profile.name(),
          100 * total.rate(),
          total.agreed,
          total.allocations,
          100 * total.rateExcludingMissedFrees(),
          total.afterMissedFree,
          100 * total.cachePrediction(),
          total.inferredFrees);
      domains.forEach(
          (domain, r) ->
              System.out.printf(
                  "    domain %d: %.4f%% (%d/%d), %.4f%% without missed;" + " adoptions %s%n",
                  domain,
                  100 * r.rate(),
                  r.agreed,
                  r.allocations,
                  100 * r.rateExcludingMissedFrees(),
                  r.adoptions));
    }

    if (strict) {
      DomainResult blind =
          total(IovaTraceReplay.replay(ops, KernelProfile.DEBIAN_6_1_STABLE, cpus, false));
      System.out.printf(
          "%s %-18s without frees inferred from unmaps: agreement %.4f%%, %.4f%% without %d"
              + " after missed frees%n",
          trace,
          KernelProfile.DEBIAN_6_1_STABLE.name(),
          100 * blind.rate(),
          100 * blind.rateExcludingMissedFrees(),
          blind.afterMissedFree);
    }
    Map<Long, DomainResult> debian = byProfile.get(KernelProfile.DEBIAN_6_1_STABLE);
    DomainResult total = total(debian);
    assertThat(total.rateExcludingMissedFrees()).isGreaterThanOrEqualTo(0.99);
    assertThat(total.rate()).isGreaterThanOrEqualTo(0.99);
    assertThat(total.cachePrediction()).isGreaterThanOrEqualTo(0.998);
    assertThat(debian.values())
        .allSatisfy(r -> assertThat(r.rateExcludingMissedFrees()).isGreaterThanOrEqualTo(0.99));
    for (KernelProfile other : PROFILES) {
      assertThat(total.agreed)
          .as("agreement of %s", other.name())
          .isGreaterThanOrEqualTo(total(byProfile.get(other)).agreed);
    }
  }

  private static DomainResult total(Map<Long, DomainResult> domains) {
    DomainResult sum = new DomainResult();
    for (DomainResult r : domains.values()) {
      sum.allocations += r.allocations;
      sum.agreed += r.agreed;
      sum.afterMissedFree += r.afterMissedFree;
      sum.cacheHitPredicted += r.cacheHitPredicted;
      sum.inferredFrees += r.inferredFrees;
    }
    return sum;
  }
}
