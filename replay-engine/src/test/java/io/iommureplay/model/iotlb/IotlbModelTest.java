package io.iommureplay.model.iotlb;

import static io.iommureplay.model.iotlb.IotlbModel.NO_PASID;
import static io.iommureplay.model.iotlb.IotlbTesting.K4;
import static io.iommureplay.model.iotlb.IotlbTesting.NIC;
import static io.iommureplay.model.iotlb.IotlbTesting.NIC_SID;
import static io.iommureplay.model.iotlb.IotlbTesting.NVME;
import static io.iommureplay.model.iotlb.IotlbTesting.NVME_SID;
import static io.iommureplay.model.iotlb.IotlbTesting.deviceTlb;
import static io.iommureplay.model.iotlb.IotlbTesting.domainFlush;
import static io.iommureplay.model.iotlb.IotlbTesting.global;
import static io.iommureplay.model.iotlb.IotlbTesting.inv;
import static io.iommureplay.model.iotlb.IotlbTesting.openRanges;
import static io.iommureplay.model.iotlb.IotlbTesting.pasidDeviceTlb;
import static io.iommureplay.model.iotlb.IotlbTesting.pasidFlush;
import static io.iommureplay.model.iotlb.IotlbTesting.pasidPsi;
import static io.iommureplay.model.iotlb.IotlbTesting.psi;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.iommureplay.model.iotlb.IotlbConfig.Mode;
import io.iommureplay.model.iotlb.IotlbTesting.Recorder;
import io.iommureplay.schema.FlushScope;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

class IotlbModelTest {

  private static final long NO_PADDR = Window.NO_PADDR;

  private final Recorder recorder = new Recorder();

  private IotlbModel model(Mode mode, long capacityPages) {
    IotlbModel model = new IotlbModel(new IotlbConfig(mode, capacityPages), recorder);
    model.attach(1, NIC, NO_PASID, false);
    return model;
  }

  @Nested
  class Conservative {

    private final IotlbModel model = model(Mode.CONSERVATIVE, IotlbConfig.UNLIMITED);

    @Test
    void anUnmapOpensAWindowThatADomainFlushCloses() {
      Window w = model.unmap(1, 0x10000, 2 * K4, 0x8000_0000L, 3, 1_000, 10);

      assertThat(w.domain()).isEqualTo(1);
      assertThat(w.seq()).isEqualTo(10);
      assertThat(w.tsNs()).isEqualTo(1_000);
      assertThat(w.cpu()).isEqualTo(3);
      assertThat(w.devices()).containsExactly(NIC);
      assertThat(w.paddr(0x11234)).isEqualTo(0x8000_1234L);
      assertThat(w.paddr(0x12000)).isEqualTo(NO_PADDR);
      assertThat(w.openBytes()).isEqualTo(2 * K4);

      model.invalidate(1, domainFlush(), 5_000, 11);

      assertThat(recorder.take()).containsExactly("closed 10 after 4000 by 11 INVALIDATED");
      assertThat(w.isOpen()).isFalse();
      assertThat(openRanges(model, w)).isEmpty();
    }

    @Test
    void aFlushOfPartOfAWindowSplitsIt() {
      Window w = model.unmap(1, 0x40000, 4 * K4, NO_PADDR, 0, 0, 1);

      model.invalidate(1, psi(0x41000, 0, true), 10, 2);

      assertThat(recorder.take()).containsExactly("partly 1 missed 0x3000 by 2");
      assertThat(openRanges(model, w)).containsExactly("0x40000-0x40fff", "0x42000-0x43fff");
      assertThat(w.openBytes()).isEqualTo(3 * K4);

      model.invalidate(1, psi(0x40000, 2, true), 20, 3);

      assertThat(recorder.take()).containsExactly("closed 1 after 20 by 3 INVALIDATED");
    }

    @Test
    void aRoundedDownFlushMissesTheEndOfAnUnalignedRange() {
      // pfn 0x1ff..0x201: ROUND_UP gives AM 2 at pfn 0x1fc (see PsiAlignmentTest), which stops at
      // 0x1ff.
      Window w = model.unmap(1, 0x1ff000, 3 * K4, NO_PADDR, 0, 0, 20);

      model.invalidate(1, psi(0x1ff000, 2, true), 1, 21);

      assertThat(recorder.take()).containsExactly("partly 20 missed 0x2000 by 21");
      assertThat(openRanges(model, w)).containsExactly("0x200000-0x201fff");
    }

    @Test
    void aGibibyteUnmapIsOneRangeAndAFlushInsideItMakesTwo() {
      Window w = model.unmap(1, 1L << 30, 1L << 30, NO_PADDR, 0, 0, 1);
      List<String> pieces = new ArrayList<>();
      model.forEachOpenRange(
          1,
          null,
          NO_PASID,
          0,
          1L << 40,
          (window, first, last) -> pieces.add("0x%x-0x%x".formatted(first, last)));

      assertThat(pieces).containsExactly("0x40000000-0x7fffffff");

      model.invalidate(1, psi(0x50000000, 9, true), 1, 2);

      assertThat(openRanges(model, w))
          .containsExactly("0x40000000-0x4fffffff", "0x50200000-0x7fffffff");
    }

    @Test
    void anIovaUnmappedTwiceBeforeTheFlushHasTwoWindows() {
      model.unmap(1, 0x10000, K4, 0x1000_0000L, 0, 0, 1);
      model.unmap(1, 0x10000, K4, 0x2000_0000L, 0, 5, 2);
      List<Long> open = new ArrayList<>();
      model.forEachOpenWindow(1, w -> open.add(w.paddr(0x10000)));

      assertThat(open).containsExactly(0x1000_0000L, 0x2000_0000L);

      model.invalidate(1, psi(0x10000, 0, true), 10, 3);

      assertThat(recorder.take())
          .containsExactly(
              "closed 1 after 10 by 3 INVALIDATED", "closed 2 after 5 by 3 INVALIDATED");
    }

    @Test
    void physicalRunsGiveEachPageItsAddress() {
      Window w =
          model.unmap(
              1,
              0x10000,
              3 * K4,
              new long[] {0x10000, 0x5000_0000L, 0x12000, 0x7000_0000L},
              0,
              0,
              1);

      assertThat(w.paddr(0x10000)).isEqualTo(0x5000_0000L);
      assertThat(w.paddr(0x11fff)).isEqualTo(0x5000_1fffL);
      assertThat(w.paddr(0x12010)).isEqualTo(0x7000_0010L);
      assertThatThrownBy(() -> model.unmap(1, 0x10000, K4, new long[] {0x11000, 0}, 0, 0, 2))
          .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aGlobalFlushClosesEveryDomainsWindowsInDomainOrder() {
      model.attach(7, NVME, NO_PASID, false);
      model.unmap(7, 0x10000, K4, NO_PADDR, 0, 0, 1);
      model.unmap(1, 0x10000, K4, NO_PADDR, 0, 0, 2);

      model.invalidate(-1, global(), 10, 3);

      assertThat(recorder.take())
          .containsExactly(
              "closed 2 after 10 by 3 INVALIDATED", "closed 1 after 10 by 3 INVALIDATED");
    }

    @Test
    void flushesOfOtherDomainsAndUnknownScopesAreNotApplied() {
      Window w = model.unmap(1, 0x10000, K4, NO_PADDR, 0, 0, 1);

      model.invalidate(2, domainFlush(), 1, 2);
      model.invalidate(-1, psi(0x10000, 0, false), 1, 3);

      assertThat(w.isOpen()).isTrue();
      assertThatThrownBy(
              () -> model.invalidate(1, inv(FlushScope.UNKNOWN, 0, 0, -1, false, null, null), 1, 4))
          .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void removingADomainClosesWhatIsLeft() {
      model.unmap(1, 0x10000, K4, NO_PADDR, 0, 0, 1);
      StaleTable table = model.tableUnlinked(1, 1, 0x200000, 0x200000, 0, 1);

      model.removeDomain(1, 50, 9);

      assertThat(recorder.take()).containsExactly("closed 1 after 50 by 9 DOMAIN_REMOVED");
      assertThat(table.isCached()).isFalse();
      model.forEachOpenWindow(1, w -> recorder.events.add("left " + w));
      assertThat(recorder.events).isEmpty();
    }
  }

  @Nested
  class DeviceTlbs {

    private final IotlbModel model = model(Mode.CONSERVATIVE, IotlbConfig.UNLIMITED);

    @Test
    void aWindowOfAnAtsDeviceClosesOnlyWhenBothTlbsWereInvalidated() {
      model.attach(1, NIC, NO_PASID, true);
      model.attach(1, NVME, NO_PASID, false);
      Window w = model.unmap(1, 0x10000, K4, NO_PADDR, 0, 0, 1);

      model.invalidate(1, psi(0x10000, 0, true), 1, 2);

      assertThat(recorder.take()).isEmpty(); // waits for the device TLB: no partial flush
      assertThat(hits(NIC)).isEqualTo(1);
      assertThat(hits(NVME)).isZero(); // its requests go through the flushed IOTLB only

      model.invalidate(1, deviceTlb(NVME_SID, 0x10000, 0), 2, 3);
      assertThat(w.isOpen()).isTrue();

      model.invalidate(1, deviceTlb(NIC_SID, 0x10000, 0), 3, 4);
      assertThat(recorder.take()).containsExactly("closed 1 after 3 by 4 INVALIDATED");
    }

    @Test
    void theDeviceTlbMayGoFirstAndNamesNoDomain() {
      model.attach(1, NIC, NO_PASID, true);
      Window w = model.unmap(1, 0x10000, K4, NO_PADDR, 0, 0, 1);

      model.invalidate(-1, deviceTlb(NIC_SID, 0, 9), 1, 2);
      assertThat(w.isOpen()).isTrue();
      model.invalidate(1, domainFlush(), 2, 3);

      assertThat(recorder.take()).containsExactly("closed 1 after 2 by 3 INVALIDATED");
    }

    @Test
    void aPasidDeviceTlbFlushReachesOnlyItsPasid() {
      model.attach(1, NIC, NO_PASID, true);
      model.attach(1, NIC, 5, true);
      Window w = model.unmap(1, 0x10000, K4, NO_PADDR, 0, 0, 1);
      model.invalidate(1, domainFlush(), 1, 2);

      model.invalidate(1, pasidDeviceTlb(NIC_SID, 5, 0x10000, 0), 2, 3);
      assertThat(w.isOpen()).isTrue();
      model.invalidate(1, pasidDeviceTlb(NIC_SID, NO_PASID, 0x10000, 0), 3, 4);

      assertThat(recorder.take()).containsExactly("closed 1 after 3 by 4 INVALIDATED");
    }

    @Test
    void aDeviceTlbFlushOfPartOfTheRangeIsAPartialFlush() {
      model.attach(1, NIC, NO_PASID, true);
      Window w = model.unmap(1, 0x10000, 2 * K4, NO_PADDR, 0, 0, 1);

      model.invalidate(1, domainFlush(), 1, 2);
      model.invalidate(1, deviceTlb(NIC_SID, 0x10000, 0), 2, 3);

      assertThat(recorder.take()).containsExactly("partly 1 missed 0x1000 by 3");
      assertThat(openRanges(model, w)).containsExactly("0x11000-0x11fff");
    }

    @Test
    void theCachesOfDetachedDevicesAreForgottenOnceNothingCachedIsTheirs() {
      for (int i = 0; i < 63; i++) { // 63 device TLBs and the IOTLB fill the 64 holder slots
        String device = "0000:01:%02x.%d".formatted(i / 8, i % 8);
        model.attach(1, device, NO_PASID, true);
        model.unmap(1, i * K4, K4, NO_PADDR, 0, 0, i);
        model.detach(1, device, NO_PASID);
      }
      assertThatThrownBy(() -> model.attach(1, NVME, NO_PASID, true))
          .isInstanceOf(IllegalStateException.class);

      model.invalidate(1, domainFlush(), 1, 100);
      model.invalidate(-1, deviceTlb(null, 0, 9), 1, 101);
      model.attach(1, NVME, NO_PASID, true);

      assertThat(model.unmap(1, 0, K4, NO_PADDR, 0, 0, 102).devices()).containsExactly(NIC, NVME);
    }

    private int hits(String device) {
      int[] n = {0};
      model.forEachOpenRange(1, device, NO_PASID, 0x10000, K4, (w, first, last) -> n[0]++);
      return n[0];
    }
  }

  @Nested
  class Pasids {

    private final IotlbModel model = new IotlbModel(IotlbConfig.DEFAULT, recorder);

    @Test
    void aFirstStageDomainIsFlushedPerPasid() {
      model.defineDomain(2, true);
      model.attach(2, NIC, NO_PASID, false);
      model.attach(2, NIC, 5, false);
      Window w = model.unmap(2, 0x10000, K4, NO_PADDR, 0, 0, 1);

      model.invalidate(2, pasidFlush(5), 1, 2);
      assertThat(w.isOpen()).isTrue();
      model.invalidate(2, pasidPsi(NO_PASID, 0x10000, 0, true), 2, 3);

      assertThat(recorder.take()).containsExactly("closed 1 after 2 by 3 INVALIDATED");
    }

    @Test
    void aPageSelectiveIotlbFlushEmptiesAFirstStageDomain() {
      model.defineDomain(2, true);
      model.attach(2, NIC, NO_PASID, false);
      model.unmap(2, 0x10000, K4, NO_PADDR, 0, 0, 1);
      model.unmap(2, 0x7000_0000L, K4, NO_PADDR, 0, 0, 2);

      model.invalidate(2, psi(0x10000, 0, true), 1, 3);

      assertThat(recorder.take())
          .containsExactly(
              "closed 1 after 1 by 3 INVALIDATED", "closed 2 after 1 by 3 INVALIDATED");
    }

    @Test
    void pasidFlushesDoNotReachSecondStageEntries() {
      model.attach(1, NIC, NO_PASID, false);
      Window w = model.unmap(1, 0x10000, K4, NO_PADDR, 0, 0, 1);

      model.invalidate(1, pasidFlush(NO_PASID), 1, 2);
      model.invalidate(1, pasidPsi(NO_PASID, 0x10000, 0, false), 1, 3);

      assertThat(w.isOpen()).isTrue();
      assertThatThrownBy(() -> model.defineDomain(1, true))
          .isInstanceOf(IllegalStateException.class);
    }
  }

  @Nested
  class PagingStructureCaches {

    private final IotlbModel model = model(Mode.CONSERVATIVE, IotlbConfig.UNLIMITED);

    @Test
    void aLeafOnlyFlushKeepsThemAndAnIhZeroFlushOfAnyPartOfTheSpanDropsThem() {
      StaleTable table = model.tableUnlinked(1, 1, 0x200000, 0x200000, 100, 30);

      model.invalidate(1, psi(0x200000, 9, true), 150, 31);
      assertThat(model.cachedTable(1, 0x200000, 0x200000)).isSameAs(table);
      model.invalidate(1, psi(0x400000, 0, false), 160, 32); // the next 2 MiB: not this span
      assertThat(table.isCached()).isTrue();

      model.invalidate(1, psi(0x3ff000, 0, false), 200, 33);

      assertThat(recorder.take()).containsExactly("table 30 after 100 by 33");
      assertThat(table.isCached()).isFalse();
      assertThat(model.cachedTable(1, 0x200000, 0x200000)).isNull();
    }

    @Test
    void aDomainFlushDropsThemWhateverItsIhAndADeviceTlbFlushNever() {
      model.attach(1, NIC, NO_PASID, true);
      StaleTable table = model.tableUnlinked(1, 2, 0, 1L << 30, 0, 1);

      model.invalidate(-1, deviceTlb(NIC_SID, 0, 18), 1, 2);
      assertThat(table.isCached()).isTrue();
      model.invalidate(1, inv(FlushScope.DOMAIN, 0, 0, -1, true, null, null), 2, 3);

      assertThat(recorder.take()).containsExactly("table 1 after 2 by 3");
    }

    @Test
    void aFlushOfAnotherPartOfAParentSpanRetiresTheParentButNotTheChild() {
      StaleTable parent = model.tableUnlinked(1, 2, 0, 1L << 30, 0, 1);
      StaleTable child = model.tableUnlinked(1, 1, 0, 0x200000, 0, 1);

      model.invalidate(1, psi(0x600000, 9, false), 5, 2);

      assertThat(parent.isCached()).isFalse();
      assertThat(child.isCached()).isTrue();
      assertThat(model.cachedTable(1, 0, 0x200000)).isSameAs(child);
    }
  }

  @Nested
  class Observed {

    private final IotlbModel model = model(Mode.OBSERVED, IotlbConfig.UNLIMITED);

    @Test
    void onlyAccessedPagesOpenAWindow() {
      assertThat(model.unmap(1, 0x10000, 4 * K4, NO_PADDR, 0, 0, 1)).isNull();

      model.deviceAccess(1, NIC, NO_PASID, 0x12800, 0x100, 5, 2);
      Window w = model.unmap(1, 0x10000, 4 * K4, NO_PADDR, 0, 10, 3);

      assertThat(w.openBytes()).isEqualTo(K4);
      assertThat(openRanges(model, w)).containsExactly("0x12000-0x12fff");
      model.invalidate(1, psi(0x12000, 0, true), 30, 4);
      assertThat(recorder.take()).containsExactly("closed 3 after 20 by 4 INVALIDATED");
    }

    @Test
    void aFlushWhileMappedForgetsTheAccess() {
      model.deviceAccess(1, NIC, NO_PASID, 0x10000, 2 * K4, 0, 1);
      model.invalidate(1, psi(0x10000, 0, true), 1, 2);

      Window w = model.unmap(1, 0x10000, 2 * K4, NO_PADDR, 0, 2, 3);

      assertThat(openRanges(model, w)).containsExactly("0x11000-0x11fff");
      assertThat(recorder.take()).isEmpty();
    }

    @Test
    void eachAccessCachesThroughItsOwnDevicesTlbs() {
      model.attach(1, NIC, NO_PASID, true);
      model.attach(1, NVME, NO_PASID, false);
      model.deviceAccess(1, NIC, NO_PASID, 0x10000, K4, 0, 1);
      model.deviceAccess(1, NVME, NO_PASID, 0x11000, K4, 0, 2);
      Window w = model.unmap(1, 0x10000, 2 * K4, NO_PADDR, 0, 0, 3);

      model.invalidate(1, domainFlush(), 1, 4);

      assertThat(recorder.take()).isEmpty();
      assertThat(openRanges(model, w)).containsExactly("0x10000-0x10fff");
      model.invalidate(1, deviceTlb(NIC_SID, 0x10000, 0), 2, 5);
      assertThat(recorder.take()).containsExactly("closed 3 after 2 by 5 INVALIDATED");
    }
  }

  @Nested
  class Capacity {

    @Test
    void theLeastRecentlyUsedPagesAreEvictedFromTheLowEndAndCloseTheirWindow() {
      IotlbModel model = model(Mode.CONSERVATIVE, 4);
      Window a = model.unmap(1, 0x10000, 2 * K4, NO_PADDR, 0, 0, 1);
      Window b = model.unmap(1, 0x20000, 2 * K4, NO_PADDR, 0, 0, 2);

      model.unmap(1, 0x30000, K4, NO_PADDR, 0, 0, 3);

      assertThat(recorder.take()).isEmpty();
      assertThat(openRanges(model, a)).containsExactly("0x11000-0x11fff");
      assertThat(model.cachedPages()).isEqualTo(4);

      model.unmap(1, 0x40000, 2 * K4, NO_PADDR, 0, 7, 4);

      assertThat(recorder.take()).containsExactly("closed 1 after 7 by 4 EVICTED");
      assertThat(openRanges(model, b)).containsExactly("0x21000-0x21fff");
      assertThat(model.cachedPages()).isEqualTo(4);
    }

    @Test
    void anEntryEvictedFromTheIotlbStaysInTheDeviceTlb() {
      IotlbModel model = model(Mode.CONSERVATIVE, 1);
      model.attach(1, NIC, NO_PASID, true);
      Window a = model.unmap(1, 0x10000, K4, NO_PADDR, 0, 0, 1);

      model.unmap(1, 0x20000, K4, NO_PADDR, 0, 0, 2);

      assertThat(a.isOpen()).isTrue();
      assertThat(model.cachedPages()).isEqualTo(1);
      model.invalidate(1, deviceTlb(NIC_SID, 0x10000, 0), 3, 3);
      assertThat(recorder.take()).containsExactly("closed 1 after 3 by 3 INVALIDATED");
    }

    @Test
    void anAccessMakesAPageTheMostRecentlyUsed() {
      IotlbModel model = model(Mode.OBSERVED, 2);
      model.deviceAccess(1, NIC, NO_PASID, 0x10000, K4, 0, 1);
      model.deviceAccess(1, NIC, NO_PASID, 0x20000, K4, 0, 2);
      model.deviceAccess(1, NIC, NO_PASID, 0x10000, 8, 0, 3);

      model.deviceAccess(1, NIC, NO_PASID, 0x30000, K4, 0, 4);

      assertThat(model.unmap(1, 0x20000, K4, NO_PADDR, 0, 0, 5)).isNull();
      assertThat(model.unmap(1, 0x10000, K4, NO_PADDR, 0, 0, 6)).isNotNull();
    }
  }
}
