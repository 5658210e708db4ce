package io.iommureplay.model.iova;

import static org.assertj.core.api.Assertions.assertThat;

import io.iommureplay.model.Domain;
import io.iommureplay.model.IommuModel;
import io.iommureplay.model.IovaReplay;
import io.iommureplay.model.ModelConfig;
import io.iommureplay.model.ModelListener;
import io.iommureplay.model.pagetable.PageTableFormat;
import io.iommureplay.testing.SharedTraces;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Replays the alloc_iova_fast() calls of the real captures (Debian 6.1.0-56, 6.1.192) through the
 * model on every kernel profile: the model must return the kernel's pfn for at least 99 % of
 * allocations, and the profile that reproduces the kernel's choices best is the kernel's.
 */
class LinuxIovaAllocatorRealTraceTest {
  private static final List<KernelProfile> PROFILES =
      List.of(
          KernelProfile.LINUX_5_15,
          KernelProfile.LINUX_6_1,
          KernelProfile.LINUX_6_7,
          KernelProfile.DEBIAN_6_1_STABLE);

  @ParameterizedTest
  @ValueSource(strings = {"strict", "lazy-smp2"})
  void modelReturnsTheKernelsPfnAndTheDebianProfileFitsBest(String trace) throws IOException {
    Map<KernelProfile, List<IovaReplay>> byProfile = new LinkedHashMap<>();
    for (KernelProfile profile : PROFILES) {
      List<IovaReplay> domains = replay(trace, profile);
      byProfile.put(profile, domains);
      System.out.printf(
          "%s %-18s agreement %.4f%% (%d/%d), %.4f%% without %d after missed frees;"
              + " cache hit/miss predicted %.4f%%; %d frees inferred from unmaps%n",
          trace,
          profile.name(),
          100 * rate(domains),
          agreed(domains),
          allocations(domains),
          100 * rateExcludingMissed(domains),
          domains.stream().mapToLong(IovaReplay::afterMissedFree).sum(),
          100
              * domains.stream().mapToDouble(r -> r.cachePrediction() * r.allocations()).sum()
              / allocations(domains),
          domains.stream().mapToLong(IovaReplay::inferredFrees).sum());
    }
    List<IovaReplay> debian = byProfile.get(KernelProfile.DEBIAN_6_1_STABLE);
    assertThat(rate(debian)).isGreaterThanOrEqualTo(0.99);
    assertThat(rateExcludingMissed(debian)).isGreaterThanOrEqualTo(0.99);
    assertThat(debian)
        .allSatisfy(
            r -> assertThat(r.kernelAgreementExcludingMissedFrees()).isGreaterThanOrEqualTo(0.99));
    assertThat(debian)
        .allSatisfy(r -> assertThat(r.cachePrediction()).isGreaterThanOrEqualTo(0.99));
    for (KernelProfile other : PROFILES) {
      assertThat(agreed(debian))
          .as("agreement of %s", other.name())
          .isGreaterThanOrEqualTo(agreed(byProfile.get(other)));
    }
  }

  /** The replayed allocators of the domains that allocated. */
  private static List<IovaReplay> replay(String trace, KernelProfile profile) throws IOException {
    ModelConfig config =
        ModelConfig.defaults()
            .withPageTableFormat(PageTableFormat.vtdSecondStage(3, 2))
            .withFlushQueue(ModelConfig.defaults().flushQueue(), 2)
            .withAllocatorProfile(profile);
    IommuModel model = new IommuModel(config, ModelListener.NONE);
    SharedTraces.forEachEvent(trace, model::apply);
    model.finish();
    List<IovaReplay> replays = new ArrayList<>();
    for (Domain d : model.domains()) {
      if (d.iova() != null && d.iova().allocations() > 0) replays.add(d.iova());
    }
    return replays;
  }

  private static long allocations(List<IovaReplay> domains) {
    return domains.stream().mapToLong(IovaReplay::allocations).sum();
  }

  private static long agreed(List<IovaReplay> domains) {
    return domains.stream().mapToLong(IovaReplay::agreed).sum();
  }

  private static double rate(List<IovaReplay> domains) {
    return (double) agreed(domains) / allocations(domains);
  }

  private static double rateExcludingMissed(List<IovaReplay> domains) {
    long missed = domains.stream().mapToLong(IovaReplay::afterMissedFree).sum();
    return (double) agreed(domains) / (allocations(domains) - missed);
  }
}
