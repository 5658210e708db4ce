package io.iommureplay.model;

import static org.assertj.core.api.Assertions.assertThat;

import io.iommureplay.model.pagetable.MapResult;
import io.iommureplay.model.pagetable.PageTableFormat;
import io.iommureplay.model.pagetable.UnmapResult;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.Mapping;
import io.iommureplay.schema.Unmapping;
import io.iommureplay.testing.SharedTraces;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Replays the real captures through the model and holds it to what the kernel reported. */
class ModelRealTraceTest {
  /**
   * The captures' IOMMU: QEMU VT-d, "Host address width 39" (3 levels), SLLPS 2 MiB and 1 GiB
   * (dmesg cap).
   */
  private static final ModelConfig CAPTURE =
      ModelConfig.defaults().withPageTableFormat(PageTableFormat.vtdSecondStage(3, 2));

  @ParameterizedTest
  @ValueSource(strings = {"lazy-smp2", "strict"})
  void everyUnmapUnmapsWhatTheKernelReportedAndLiveMappingsEndAlike(String name)
      throws IOException {
    List<String> unmapMismatches = new ArrayList<>();
    long[] unmaps = {0};
    long[] notApplied = {0};
    long[] mapsOverLive = {0};
    long[] reservedMaps = {0};
    // The trace's own account of what stays mapped: per domain, pfns mapped minus pfns unmapped.
    Map<Long, TreeSet<Long>> traceLive = new TreeMap<>();
    IommuModel model =
        new IommuModel(
            CAPTURE,
            new ModelListener() {
              @Override
              public void mapped(IommuEvent event, Domain domain, Mapping map, MapResult result) {
                if (result.hitLiveMapping()) mapsOverLive[0]++;
                TreeSet<Long> pages = traceLive.computeIfAbsent(domain.id(), d -> new TreeSet<>());
                for (long p = map.getIova(); p < map.getIova() + map.getSize(); p += 4096)
                  pages.add(p);
              }

              @Override
              public void unmapped(
                  IommuEvent event, Domain domain, Unmapping unmap, UnmapResult result) {
                unmaps[0]++;
                if (result.unmappedSize() != unmap.getUnmappedSize()
                    && unmapMismatches.size() < 10) {
                  unmapMismatches.add(
                      "seq "
                          + event.getSeq()
                          + ": kernel "
                          + unmap.getUnmappedSize()
                          + ", model "
                          + result.unmappedSize());
                }
                traceLive
                    .get(domain.id())
                    .subSet(unmap.getIova(), unmap.getIova() + unmap.getUnmappedSize())
                    .clear();
              }

              @Override
              public void reservedRegionMapped(
                  IommuEvent event, Domain domain, Mapping map, ReservedRegions.Region region) {
                reservedMaps[0]++;
              }

              @Override
              public void notApplied(IommuEvent event, String reason) {
                notApplied[0]++;
              }
            });
    importInto(name, model);
    model.finish();

    System.out.printf(
        "%s: %,d unmaps replayed, %,d map/unmap events without a domain, %,d maps over live mappings%n",
        name, unmaps[0], notApplied[0], mapsOverLive[0]);
    // Linux never maps over a live mapping; one here would mean a lost unmap (see OrphanUnmaps).
    assertThat(mapsOverLive[0]).isZero();
    assertThat(reservedMaps[0]).as("maps into reserved IOVA ranges").isZero();
    assertThat(unmapMismatches).isEmpty();
    assertThat(unmaps[0]).isGreaterThan(90_000);
    for (Domain domain : model.domains()) {
      TreeSet<Long> modelLive = new TreeSet<>();
      domain
          .pageTable()
          .forEachMapping(
              (iova, paddr, size, prot) -> {
                for (long p = iova; p < iova + size; p += 4096) modelLive.add(p);
              });
      assertThat(modelLive)
          .as("live pages of domain %d", domain.id())
          .isEqualTo(traceLive.getOrDefault(domain.id(), new TreeSet<>()));
    }
    Domain isaBridge =
        model.domains().stream()
            .filter(d -> d.devices().contains("0000:00:1f.0"))
            .findFirst()
            .orElseThrow();
    assertThat(isaBridge.pageTable().translate(0)).isZero();
    assertThat(isaBridge.pageTable().translate(0xFFFFFF)).isEqualTo(0xFFFFFF);
    assertThat(isaBridge.pageTable().liveMappedBytes())
        .as("the 16 MiB floppy/ISA identity map stays")
        .isEqualTo(16L << 20);
  }

  private static void importInto(String name, IommuModel model) throws IOException {
    SharedTraces.forEachEvent(name, model::apply);
  }
}
