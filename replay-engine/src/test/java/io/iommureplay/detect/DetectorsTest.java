package io.iommureplay.detect;

import static io.iommureplay.schema.FindingType.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.iommureplay.schema.EventType;
import io.iommureplay.schema.Finding;
import io.iommureplay.schema.FindingType;
import io.iommureplay.schema.ReservedRegionKind;
import io.iommureplay.schema.Severity;
import io.iommureplay.schema.TableFreeMode;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * One hand-built scenario per finding type: each detector fires where SPEC says, and only there.
 */
class DetectorsTest {
  private static final String NIC = "0000:00:06.0";
  private static final String DISK = "0000:00:04.0";
  private static final long PAGE = 4096;
  private static final long IOVA = 0xffff0000L;
  private static final long PHYS = 0x11aa30000L;

  private static List<Finding> only(List<Finding> findings, FindingType type) {
    return findings.stream().filter(f -> f.getType() == type).toList();
  }

  /** A strict domain 1 (disk) and a lazy domain 2 (NIC). */
  private static Scenario twoDomains() {
    return new Scenario().domain(1, DISK, false).domain(2, NIC, true);
  }

  @Test
  void cleanStrictAndLazyTrafficHasNoFindings() {
    Scenario s = twoDomains();
    s.alloc(0, 1, DISK, IOVA >> 12, 1, 0xfffff)
        .map(0, 1, DISK, IOVA, PAGE, PHYS)
        .access(0, 1, DISK, IOVA, 512, null)
        .unmap(0, 1, DISK, IOVA, PAGE)
        .syncFlush(0, 1, IOVA, PAGE, true)
        .free(0, 1, IOVA >> 12, 1);
    s.alloc(1, 2, NIC, IOVA >> 12, 1, 0xfffff)
        .map(1, 2, NIC, IOVA, PAGE, PHYS + PAGE)
        .unmap(1, 2, NIC, IOVA, PAGE)
        .enqueue(1, 2, IOVA, PAGE)
        .after(10_000_000)
        .timerFlush(1, 2);

    assertThat(s.findings()).isEmpty();
  }

  @Test
  void mapOverALiveMapping() {
    Scenario s = twoDomains().map(0, 1, DISK, IOVA, PAGE, PHYS);
    long second = s.nextSeq();
    s.map(1, 1, DISK, IOVA, PAGE, PHYS + PAGE);

    assertThat(only(s.findings(), MAP_OVER_LIVE_MAPPING))
        .singleElement()
        .satisfies(
            f -> {
              assertThat(f.getSeverity()).isEqualTo(Severity.HIGH);
              assertThat(f.getEvidence()).containsExactly(second);
              assertThat(f.getIovaStart()).isEqualTo(IOVA);
            });
  }

  @Test
  void unmapOfUnmappedMemory() {
    Scenario s = twoDomains().unmap(0, 1, DISK, IOVA, PAGE);

    assertThat(only(s.findings(), UNMAP_OF_UNMAPPED))
        .singleElement()
        .satisfies(f -> assertThat(f.getIovaEnd()).isEqualTo(IOVA + PAGE));
  }

  @Test
  void unmappingPartOfALargePage() {
    long big = 0x40000000L;
    // VT-d intel_iommu_unmap(): a range starting at the superpage is rounded up, all 2 MiB go.
    Scenario whole =
        twoDomains().map(0, 1, DISK, big, 2L << 20, 0x200000000L).unmap(0, 1, DISK, big, PAGE);
    // One starting inside it: dma_pte_clear_level() walks into the superpage's data page.
    Scenario inside =
        twoDomains()
            .map(0, 1, DISK, big, 2L << 20, 0x200000000L)
            .unmap(0, 1, DISK, big + PAGE, PAGE);

    assertThat(only(whole.findings(), LARGE_PAGE_SPLIT))
        .singleElement()
        .satisfies(
            f -> {
              assertThat(f.getSeverity()).isEqualTo(Severity.MEDIUM);
              assertThat(f.getMessage()).contains("removed all of it");
            });
    assertThat(only(inside.findings(), LARGE_PAGE_SPLIT))
        .singleElement()
        .satisfies(
            f -> {
              assertThat(f.getSeverity()).isEqualTo(Severity.HIGH);
              assertThat(f.getMessage()).contains("left the large page mapped");
            });
  }

  @Test
  void writersOnTwoCpusWhoseExecutionOverlaps() {
    Scenario s = twoDomains().mapTaking(0, 1, DISK, IOVA, 4 * PAGE, PHYS, 50_000L);
    s.unmapTaking(1, 1, DISK, IOVA + PAGE, PAGE, 1_000L);

    assertThat(only(s.findings(), WRITER_RACE))
        .singleElement()
        .satisfies(
            f -> {
              assertThat(f.getIovaStart()).isEqualTo(IOVA + PAGE);
              assertThat(f.getMessage()).contains("execution overlapped");
            });
  }

  @Test
  void aRangeMappedOnAnotherCpuWithoutAnAllocationHandingItOver() {
    Scenario s =
        twoDomains()
            .alloc(0, 1, DISK, IOVA >> 12, 1, 0xfffff)
            .map(0, 1, DISK, IOVA, PAGE, PHYS)
            .unmap(0, 1, DISK, IOVA, PAGE)
            .syncFlush(0, 1, IOVA, PAGE, true);
    s.map(1, 1, DISK, IOVA, PAGE, PHYS + PAGE); // no alloc_iova_fast of it after the unmap

    assertThat(only(s.findings(), WRITER_RACE))
        .singleElement()
        .satisfies(
            f -> assertThat(f.getMessage()).contains("no IOVA allocation handed the range over"));
  }

  @Test
  void concurrentInstallsOfOneTableSlotResolvedOrLeaked() {
    Scenario resolved =
        twoDomains()
            .table(
                EventType.PGTABLE_ALLOC,
                0,
                1,
                1,
                IOVA & -(2L << 20),
                2L << 20,
                0x5000,
                TableFreeMode.IMMEDIATE)
            .table(
                EventType.PGTABLE_ALLOC,
                1,
                1,
                1,
                IOVA & -(2L << 20),
                2L << 20,
                0x6000,
                TableFreeMode.IMMEDIATE)
            .table(
                EventType.PGTABLE_FREE,
                1,
                1,
                1,
                IOVA & -(2L << 20),
                2L << 20,
                0x6000,
                TableFreeMode.IMMEDIATE);
    Scenario leaked =
        twoDomains()
            .table(
                EventType.PGTABLE_ALLOC,
                0,
                1,
                1,
                IOVA & -(2L << 20),
                2L << 20,
                0x5000,
                TableFreeMode.IMMEDIATE)
            .table(
                EventType.PGTABLE_ALLOC,
                1,
                1,
                1,
                IOVA & -(2L << 20),
                2L << 20,
                0x6000,
                TableFreeMode.IMMEDIATE);

    assertThat(only(resolved.findings(), TABLE_INSTALL_RACE))
        .singleElement()
        .satisfies(f -> assertThat(f.getSeverity()).isEqualTo(Severity.LOW));
    assertThat(only(leaked.findings(), TABLE_INSTALL_RACE))
        .singleElement()
        .satisfies(
            f -> {
              assertThat(f.getSeverity()).isEqualTo(Severity.MEDIUM);
              assertThat(f.getMessage()).contains("leaked");
            });
  }

  @Test
  void aWalkOverATablePageFreedAtOnce() {
    Scenario racing =
        twoDomains()
            .walk(0, 1, 0, 1L << 32, 5_000_000)
            .table(
                EventType.PGTABLE_FREE,
                1,
                1,
                1,
                IOVA & -(2L << 20),
                2L << 20,
                0x5000,
                TableFreeMode.IMMEDIATE);
    Scenario deferred =
        twoDomains()
            .walk(0, 1, 0, 1L << 32, 5_000_000)
            .table(
                EventType.PGTABLE_FREE,
                1,
                1,
                1,
                IOVA & -(2L << 20),
                2L << 20,
                0x5000,
                TableFreeMode.RCU_DEFERRED);

    assertThat(only(racing.findings(), WALK_FREE_RACE)).hasSize(1);
    assertThat(only(deferred.findings(), WALK_FREE_RACE)).isEmpty();
  }

  @Test
  void aDeviceAccessInsideALazyWindowIsCritical() {
    Scenario s =
        twoDomains()
            .map(0, 2, NIC, IOVA, PAGE, PHYS)
            .unmap(0, 2, NIC, IOVA, PAGE)
            .enqueue(0, 2, IOVA, PAGE)
            .access(1, 2, NIC, IOVA + 64, 64, null);

    assertThat(only(s.findings(), DEVICE_ACCESS_AFTER_UNMAP))
        .singleElement()
        .satisfies(
            f -> {
              assertThat(f.getSeverity()).isEqualTo(Severity.CRITICAL);
              assertThat(f.getDevice()).isEqualTo(NIC);
            });
  }

  @Test
  void aPhysicalPageReusedWhileStaleIsHighAcrossDevicesAndLowWithinOne() {
    Scenario s =
        twoDomains()
            .map(0, 2, NIC, IOVA, PAGE, PHYS)
            .unmap(0, 2, NIC, IOVA, PAGE)
            .enqueue(0, 2, IOVA, PAGE)
            .map(0, 2, NIC, IOVA + PAGE, PAGE, PHYS) // the NIC's own page pool recycles it: LOW
            .map(1, 1, DISK, 0x80000000L, PAGE, PHYS); // the disk gets it: HIGH

    List<Finding> reuse = only(s.findings(), PHYS_REUSE_IN_WINDOW);
    assertThat(reuse)
        .extracting(Finding::getSeverity)
        .containsExactlyInAnyOrder(Severity.LOW, Severity.HIGH);
    assertThat(reuse)
        .filteredOn(f -> f.getSeverity() == Severity.HIGH)
        .singleElement()
        .satisfies(
            f -> {
              assertThat(f.getDomain()).isEqualTo(2);
              assertThat(f.getDevice()).isEqualTo(NIC);
              assertThat(f.getOtherDomain()).isEqualTo(1);
              assertThat(f.getOtherDevice()).isEqualTo(DISK);
              assertThat(f.getPhysStart()).isEqualTo(PHYS);
            });
  }

  @Test
  void anIovaHandedOutAgainBeforeItsFlush() {
    Scenario s =
        twoDomains()
            .map(0, 2, NIC, IOVA, PAGE, PHYS)
            .unmap(0, 2, NIC, IOVA, PAGE)
            .enqueue(0, 2, IOVA, PAGE)
            .alloc(1, 2, NIC, IOVA >> 12, 1, 0xfffff);

    assertThat(only(s.findings(), IOVA_REUSE_BEFORE_FLUSH))
        .singleElement()
        .satisfies(f -> assertThat(f.getSeverity()).isEqualTo(Severity.HIGH));
  }

  @Test
  void aWindowNeverFlushedAndOneFlushedLate() {
    Scenario missing =
        twoDomains()
            .map(0, 1, DISK, IOVA, PAGE, PHYS)
            .unmap(0, 1, DISK, IOVA, PAGE)
            .after(500_000_000)
            .map(0, 1, DISK, IOVA + 16 * PAGE, PAGE, PHYS + 16 * PAGE);
    Scenario late =
        twoDomains()
            .map(0, 2, NIC, IOVA, PAGE, PHYS)
            .unmap(0, 2, NIC, IOVA, PAGE)
            .enqueue(0, 2, IOVA, PAGE)
            .after(300_000_000)
            .timerFlush(0, 2);
    Scenario cutShort =
        twoDomains()
            .map(0, 2, NIC, IOVA, PAGE, PHYS)
            .unmap(0, 2, NIC, IOVA, PAGE)
            .enqueue(0, 2, IOVA, PAGE);

    assertThat(only(missing.findings(), MISSING_FLUSH)).hasSize(1);
    assertThat(only(late.findings(), LONG_WINDOW))
        .singleElement()
        .satisfies(f -> assertThat(f.getMessage()).contains("300.0 ms"));
    assertThat(cutShort.findings()).as("a trace that ends before the next timer flush").isEmpty();
  }

  @Test
  void aFlushThatCoversOnlyPartOfTheUnmap() {
    Scenario s =
        twoDomains()
            .map(0, 1, DISK, IOVA, 2 * PAGE, PHYS)
            .unmap(0, 1, DISK, IOVA, 2 * PAGE)
            .syncFlush(0, 1, IOVA, PAGE, true);

    assertThat(only(s.findings(), PARTIAL_FLUSH))
        .singleElement()
        .satisfies(f -> assertThat(f.getMessage()).contains("4096 bytes stay cached"));
  }

  @Test
  void detachingADeviceWithOpenWindows() {
    Scenario s =
        twoDomains()
            .map(0, 2, NIC, IOVA, PAGE, PHYS)
            .unmap(0, 2, NIC, IOVA, PAGE)
            .enqueue(0, 2, IOVA, PAGE)
            .detach(2, NIC);

    assertThat(only(s.findings(), DETACH_WITH_OPEN_WINDOWS))
        .singleElement()
        .satisfies(f -> assertThat(f.getDevice()).isEqualTo(NIC));
  }

  @Test
  void tablePagesFreedAfterALeafOnlyFlush() {
    // Unmapping all 2 MiB under a level-1 table frees the table; a flush with IH=1 keeps the
    // paging-structure caches, so the table page is freed while the IOMMU may still walk it.
    long base = 0x40000000L;
    Scenario s = twoDomains();
    for (long off = 0; off < (2L << 20); off += 64 * PAGE)
      s.map(0, 1, DISK, base + off, 64 * PAGE, PHYS + off);
    s.unmap(0, 1, DISK, base, 2L << 20).syncFlush(0, 1, base, 2L << 20, true);
    Scenario safe = twoDomains();
    for (long off = 0; off < (2L << 20); off += 64 * PAGE)
      safe.map(0, 1, DISK, base + off, 64 * PAGE, PHYS + off);
    safe.unmap(0, 1, DISK, base, 2L << 20).syncFlush(0, 1, base, 2L << 20, false);

    assertThat(only(s.findings(), TABLE_FREE_BEFORE_FLUSH)).isNotEmpty();
    assertThat(safe.findings()).isEmpty();
  }

  @Test
  void mappingIntoAReservedRegion() {
    Scenario s =
        twoDomains()
            .reserved(1, DISK, ReservedRegionKind.MSI, 0xfee00000L, 0x100000)
            .map(0, 1, DISK, 0xfee00000L, PAGE, PHYS);

    assertThat(only(s.findings(), RESERVED_REGION_MAPPING))
        .singleElement()
        .satisfies(f -> assertThat(f.getMessage()).contains("MSI"));
  }

  @Test
  void dmaOnAPasidAfterItsProcessExited() {
    Scenario s =
        twoDomains()
            .pasid(EventType.SVA_BIND, NIC, 0, 100)
            .access(0, 2, NIC, 0x1000, 64, 1)
            .pasid(EventType.MM_EXIT, NIC, 1, 100)
            .access(0, 2, NIC, 0x1000, 64, 1);

    assertThat(only(s.findings(), PASID_USE_AFTER_EXIT))
        .singleElement()
        .satisfies(f -> assertThat(f.getMessage()).contains("exited"));
  }

  @Test
  void allocationFailuresFromFragmentationAndFromAnExhausted32BitSpace() {
    // 32-bit space: fill pfns 1..0xfffff by allocating big blocks, then free every other one.
    Scenario fragmented = twoDomains();
    long block = 1 << 16;
    for (long pfn = 0; pfn + block <= 0x100000; pfn += block) {
      fragmented.alloc(0, 1, DISK, pfn == 0 ? 1 : pfn, pfn == 0 ? block - 1 : block, 0xfffff);
    }
    for (long pfn = block; pfn + block <= 0x100000; pfn += 2 * block)
      fragmented.free(0, 1, pfn, block);
    fragmented.failedAlloc(0, 1, DISK, 4 * block, 0xfffff);
    Scenario exhausted = twoDomains();
    for (long pfn = 0; pfn + block <= 0x100000; pfn += block) {
      exhausted.alloc(0, 1, DISK, pfn == 0 ? 1 : pfn, pfn == 0 ? block - 1 : block, 0xfffff);
    }
    exhausted.failedAlloc(0, 1, DISK, 1, 0xfffff);

    assertThat(only(fragmented.findings(), ALLOC_FAILURE_FRAGMENTED)).hasSize(1);
    assertThat(only(exhausted.findings(), IOVA32_EXHAUSTED)).hasSize(1);
  }

  @Test
  void sustainedHighFragmentation() {
    Scenario s = twoDomains();
    // A 32 MiB window (limit pfn 0x1fff) with every other page allocated: its free space is all
    // one-page holes; allocations and frees in the holes keep it so.
    for (long pfn = 2; pfn < 0x1fff; pfn += 2) s.alloc(0, 1, DISK, pfn, 1, 0x1fff);
    for (int i = 0; i < 256 * 10; i++) s.alloc(0, 1, DISK, 3, 1, 0x1fff).free(0, 1, 3, 1);

    assertThat(only(s.findings(), HIGH_FRAGMENTATION)).hasSize(1);
  }
}
