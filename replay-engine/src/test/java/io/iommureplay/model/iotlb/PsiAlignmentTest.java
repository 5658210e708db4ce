package io.iommureplay.model.iotlb;

import static io.iommureplay.model.iotlb.PsiAlignment.QEMU_MAMV;
import static io.iommureplay.model.iotlb.PsiAlignment.WHOLE_SPACE;
import static org.assertj.core.api.Assertions.assertThat;

import io.iommureplay.model.iotlb.PsiAlignment.Rule;
import io.iommureplay.schema.FlushScope;
import io.iommureplay.schema.FlushTrigger;
import io.iommureplay.schema.IotlbInvalidation;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Hand-worked page-selective invalidations of the Intel VT-d driver. */
class PsiAlignmentTest {

  private static final PsiAlignment SHARED = new PsiAlignment(Rule.SHARED_BITS, QEMU_MAMV);
  private static final PsiAlignment ROUND = new PsiAlignment(Rule.ROUND_UP, WHOLE_SPACE);

  @Test
  void anAlignedPowerOfTwoIsFlushedExactly() {
    // pfn 0x200..0x203: 4 pages, roundup 4, AM = ilog2(4) = 2; pfn & bitmask (3) == 0, so no raise.
    assertThat(SHARED.addressMask(0x200, 0x203)).isEqualTo(2);
    assertThat(ROUND.addressMask(0x200, 0x203)).isEqualTo(2);
    assertDescriptor(
        SHARED.pageSelective(0x200, 0x203, true), FlushScope.PAGE, 0x200000, 0x4000, 2, true);
  }

  @Test
  void aPageCountIsRoundedUpToAPowerOfTwo() {
    // pfn 0x200..0x204: 5 pages, __roundup_pow_of_two(5) = 8, AM 3; 0x200 is 8-aligned.
    assertDescriptor(
        SHARED.pageSelective(0x200, 0x204, false), FlushScope.PAGE, 0x200000, 0x8000, 3, false);
  }

  @Test
  void anUnalignedRangeRaisesTheMaskUntilStartAndEndAgree() {
    // calculate_psi_aligned_address(): pfn 0x1ff..0x201, 3 pages, roundup 4, bitmask 3, pfn & 3 !=
    // 0;
    // end_pfn 0x201, shared_bits = ~(0x1ff ^ 0x201) & ~3 = ~0x3fe & ~3, whose lowest bit is 10:
    // AM 10, base pfn 0, 1024 pages (4 MiB) flushed for 3.
    assertThat(SHARED.addressMask(0x1ff, 0x201)).isEqualTo(10);
    assertDescriptor(
        SHARED.pageSelective(0x1ff, 0x201, true), FlushScope.PAGE, 0, 0x400000, 10, true);
  }

  @Test
  void roundingUpAloneLosesTheEndOfAnUnalignedRange() {
    // Linux 6.1 qi_flush_piotlb(): AM = ilog2(__roundup_pow_of_two(3)) = 2, addr ALIGN_DOWN'd to 4
    // pages: pfn 0x1fc..0x1ff. Pfns 0x200 and 0x201 stay cached.
    assertDescriptor(
        ROUND.pageSelective(0x1ff, 0x201, false), FlushScope.PAGE, 0x1fc000, 0x4000, 2, false);
  }

  @Test
  void aMaskAboveMamvBecomesADomainFlushWithoutIh() {
    // iommu_flush_iotlb_psi() / cache_tag_flush_iotlb(): mask > cap_max_amask_val() →
    // DMA_TLB_DSI_FLUSH.
    assertDescriptor(
        new PsiAlignment(Rule.SHARED_BITS, 9).pageSelective(0x1ff, 0x201, true),
        FlushScope.DOMAIN,
        0,
        0,
        -1,
        false);
    // On QEMU (MAMV 18) 2^18 aligned pages still fit; 2^19 do not.
    assertThat(SHARED.pageSelective(0, (1 << 18) - 1, false).getScope()).isEqualTo(FlushScope.PAGE);
    assertThat(SHARED.pageSelective(0, (1 << 19) - 1, false).getScope())
        .isEqualTo(FlushScope.DOMAIN);
  }

  @Test
  void aRangeWithNoSharedBitBelowTheTopIsTheWholeSpace() {
    // pfns 2^51 - 1 and 2^51 agree first in bit 52 (above MAX_AGAW_PFN_WIDTH): the whole space.
    PsiAlignment unlimited = new PsiAlignment(Rule.SHARED_BITS, WHOLE_SPACE);
    assertDescriptor(
        unlimited.pageSelective((1L << 51) - 1, 1L << 51, true), FlushScope.PAGE, 0, 0, 52, true);
  }

  @Test
  void aStrictUnmapFlushesItsGatherRangeWithIhWhenNoTableWasFreed() {
    // intel_iommu_tlb_sync(): 8 KiB at 0x1ff000 is pfn 0x1ff..0x200, across a 2 MiB boundary: AM
    // 10.
    IotlbInvalidation inv = SHARED.strictUnmap(0x1ff000, 0x2000, false);
    assertDescriptor(inv, FlushScope.PAGE, 0, 0x400000, 10, true);
    assertThat(inv.getTrigger()).isEqualTo(FlushTrigger.SYNC);
    // A 2 MiB unmap that freed its level-1 table: IH=0 (the gather's freelist is not empty).
    assertDescriptor(
        SHARED.strictUnmap(0x200000, 0x200000, true),
        FlushScope.PAGE,
        0x200000,
        0x200000,
        9,
        false);
  }

  @Test
  void theRuleDecidesWhetherAStrictUnmapsOwnFlushClosesItsWindow() {
    IotlbTesting.Recorder recorder = new IotlbTesting.Recorder();
    IotlbModel model = new IotlbModel(IotlbConfig.DEFAULT, recorder);
    model.unmap(1, 0x1ff000, 0x3000, Window.NO_PADDR, 0, 0, 1);
    model.unmap(1, 0x5ff000, 0x3000, Window.NO_PADDR, 0, 0, 2);

    model.invalidate(1, SHARED.strictUnmap(0x1ff000, 0x3000, false), 10, 3);
    model.invalidate(1, ROUND.strictUnmap(0x5ff000, 0x3000, false), 10, 4);

    assertThat(recorder.take())
        .containsExactly("closed 1 after 10 by 3 INVALIDATED", "partly 2 missed 0x2000 by 4");
  }

  @Test
  void sharedBitsAlwaysCoverTheRangeAtAnAlignedBase() {
    PsiAlignment unlimited = new PsiAlignment(Rule.SHARED_BITS, WHOLE_SPACE);
    Random random = new Random(6_1);
    for (int i = 0; i < 10_000; i++) {
      long start = random.nextLong(1L << 40);
      long end = start + random.nextLong(1L << random.nextInt(20));
      IotlbInvalidation inv = unlimited.pageSelective(start, end, false);
      long base = inv.getIova() >>> 12;
      long pages = 1L << inv.getAddressMask();
      assertThat(base % pages).isZero();
      assertThat(base).isLessThanOrEqualTo(start);
      assertThat(end - base).isLessThan(pages);
    }
  }

  private static void assertDescriptor(
      IotlbInvalidation inv, FlushScope scope, long iova, long size, int mask, boolean leafOnly) {
    assertThat(inv.getScope()).isEqualTo(scope);
    assertThat(inv.getIova()).isEqualTo(iova);
    assertThat(inv.getSize()).isEqualTo(size);
    assertThat(inv.getAddressMask()).isEqualTo(mask);
    assertThat(inv.getLeafOnly()).isEqualTo(leafOnly);
  }
}
