package io.iommureplay.importer;

import static io.iommureplay.importer.Imported.fields;
import static io.iommureplay.schema.Attribution.CPU_CONTEXT;
import static io.iommureplay.schema.Attribution.INFERRED;
import static io.iommureplay.schema.Attribution.MISSING;
import static io.iommureplay.schema.Attribution.NOT_NEEDED;
import static io.iommureplay.schema.Attribution.TRACE;
import static io.iommureplay.schema.EventType.ATTACH;
import static io.iommureplay.schema.EventType.DEVICE_ADD;
import static io.iommureplay.schema.EventType.DEVICE_REMOVE;
import static io.iommureplay.schema.EventType.DMA_MAP;
import static io.iommureplay.schema.EventType.DMA_MAP_DONE;
import static io.iommureplay.schema.EventType.DMA_MAP_SG;
import static io.iommureplay.schema.EventType.DMA_MAP_SG_DONE;
import static io.iommureplay.schema.EventType.DMA_UNMAP;
import static io.iommureplay.schema.EventType.DMA_UNMAP_SG;
import static io.iommureplay.schema.EventType.FQ_ENQUEUE;
import static io.iommureplay.schema.EventType.FQ_FLUSH;
import static io.iommureplay.schema.EventType.FQ_REAP;
import static io.iommureplay.schema.EventType.FQ_TIMEOUT;
import static io.iommureplay.schema.EventType.IOTLB_FLUSH;
import static io.iommureplay.schema.EventType.IOTLB_FLUSH_REQUEST;
import static io.iommureplay.schema.EventType.IOVA_ALLOC;
import static io.iommureplay.schema.EventType.IOVA_ALLOC_REQUEST;
import static io.iommureplay.schema.EventType.IOVA_DOMAIN_INIT;
import static io.iommureplay.schema.EventType.IOVA_FREE;
import static io.iommureplay.schema.EventType.IOVA_REMOVE;
import static io.iommureplay.schema.EventType.IOVA_RESERVE;
import static io.iommureplay.schema.EventType.IO_PAGE_FAULT;
import static io.iommureplay.schema.EventType.MAP;
import static io.iommureplay.schema.EventType.MARKER;
import static io.iommureplay.schema.EventType.UNMAP;
import static io.iommureplay.schema.FlushScope.DOMAIN;
import static io.iommureplay.schema.FlushScope.PAGE;
import static io.iommureplay.schema.FlushTrigger.FQ_FULL;
import static io.iommureplay.schema.FlushTrigger.FQ_TIMER;
import static io.iommureplay.schema.FlushTrigger.SYNC;
import static io.iommureplay.schema.IovaPath.FAST;
import static io.iommureplay.schema.IovaPath.RBTREE;
import static org.assertj.core.api.Assertions.assertThat;

import io.iommureplay.schema.Attribution;
import io.iommureplay.schema.DeviceBinding;
import io.iommureplay.schema.DmaApiCall;
import io.iommureplay.schema.EventType;
import io.iommureplay.schema.FlushQueueOp;
import io.iommureplay.schema.FlushScope;
import io.iommureplay.schema.FlushTrigger;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.IotlbInvalidation;
import io.iommureplay.schema.IovaAllocation;
import io.iommureplay.schema.IovaDomainInit;
import io.iommureplay.schema.IovaFree;
import io.iommureplay.schema.IovaRange;
import io.iommureplay.schema.Mapping;
import io.iommureplay.schema.PageFault;
import io.iommureplay.schema.TraceMarker;
import io.iommureplay.schema.Unmapping;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.assertj.core.groups.Tuple;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every line format the ftrace importer claims, written by hand as the kernel prints it, checked
 * event by event and field by field; then the attribution of map and unmap in the situations the
 * shared captures show, and the handling of malformed and unknown lines.
 */
class FtraceImporterFormatsTest {
  private static final String A = "0000:00:04.0";
  private static final String B = "0000:00:05.0";

  /** dma-iommu cookies; the kprobes print the iova_domain at cookie + 8. */
  private static final long COOKIE_A = 0xff3deedd190ad800L;

  private static final long COOKIE_B = 0xff3deedd190ade00L;
  private static final long FQ = 0xff80615e7fd02810L;
  private static final long TIMER_A = 0xff3deedd190ad8a0L;

  /** Boot: A (group 1) gets domain 1, B (group 2) domain 2, as in the shared captures. */
  private static final String BOOT =
      """
                init-1       [001] .....     2.141873: add_device_to_group: IOMMU: groupID=1 device=0000:00:04.0
                init-1       [001] .....     2.141918: add_device_to_group: IOMMU: groupID=2 device=0000:00:05.0
                init-1       [001] .....     2.149388: attach_device_to_domain: IOMMU: device=0000:00:04.0
                init-1       [001] .....     2.149399: init_iova_domain: (init_iova_domain+0x0/0x90) iovad=0xff3deedd190ad808 granule=4096 start_pfn=0x1
                init-1       [001] .....     2.149813: attach_device_to_domain: IOMMU: device=0000:00:05.0
                init-1       [001] .....     2.149817: init_iova_domain: (init_iova_domain+0x0/0x90) iovad=0xff3deedd190ade08 granule=4096 start_pfn=0x1
      """;

  private static final int BOOT_LINES = 6;

  // ---- line header ----

  @Test
  void headerVariantsAllGiveCpuTimestampAndEvent() {
    Imported r =
        Imported.of(
            """
        # tracer: nop
        #
        #           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION

                  <idle>-0       [000] d.h2.    14.699627: tracing_mark_write: tracefs with five FLAGS
            kworker/u4:1-25      [001] .....    14.700000: tracing_mark_write: slash and colon in COMM
                   <...>-1234    [002] ..s1.    14.700001: tracing_mark_write: COMM not recorded
             my-prog [x]-77      [003] d.Z..  1234.123456789: tracing_mark_write: spaces and brackets, ns clock
          kworker/u4:1-25    [001]    15.000001: tracing_mark_write: trace-cmd report, no FLAGS
              worker-3 [1]-78    [004] .....    16.5: tracing_mark_write: COMM that looks like PID and CPU
        """);

    assertThat(r.rejected()).isEmpty();
    assertThat(r.stats().headerLines()).isEqualTo(4);
    assertThat(r.events())
        .extracting(IommuEvent::getSeq, IommuEvent::getCpu, IommuEvent::getTsNs)
        .containsExactly(
            Tuple.tuple(5L, 0, 14_699_627_000L),
            Tuple.tuple(6L, 1, 14_700_000_000L),
            Tuple.tuple(7L, 2, 14_700_001_000L),
            Tuple.tuple(8L, 3, 1_234_123_456_789L),
            Tuple.tuple(9L, 1, 15_000_001_000L),
            Tuple.tuple(10L, 4, 16_500_000_000L));
    assertThat(r.events())
        .extracting(e -> ((TraceMarker) e.getPayload()).getText())
        .containsExactly(
            "tracefs with five FLAGS",
            "slash and colon in COMM",
            "COMM not recorded",
            "spaces and brackets, ns clock",
            "trace-cmd report, no FLAGS",
            "COMM that looks like PID and CPU");
    assertThat(r.events())
        .allSatisfy(
            e -> {
              assertThat(e.getHost()).isEqualTo(Imported.HOST);
              assertThat(fields(e))
                  .isEqualTo(
                      tuple(MARKER, "tracing_mark_write", -1, null, NOT_NEEDED, e.getPayload()));
            });
    assertThat(r.stats().lines()).isEqualTo(10);
  }

  @Test
  void traceCmdReportOutputStartsWithItsCpuCount() {
    // trace-cmd report prints "cpus=N" first (trace-read.c), then the events without FLAGS (unless
    // -l).
    Imported r =
        Imported.of(
            """
        cpus=2
                  init-1     [001]     2.149388: attach_device_to_domain: IOMMU: device=0000:00:04.0
                  init-1     [001]     2.149399: init_iova_domain: (init_iova_domain+0x0/0x90) iovad=0xff3deedd190ad808 granule=4096 start_pfn=0x1
        """);

    assertThat(r.rejected()).isEmpty();
    assertThat(r.stats().headerLines()).isEqualTo(1);
    assertThat(r.events())
        .extracting(IommuEvent::getType, IommuEvent::getCpu, IommuEvent::getTsNs)
        .containsExactly(
            Tuple.tuple(ATTACH, 1, 2_149_388_000L),
            Tuple.tuple(IOVA_DOMAIN_INIT, 1, 2_149_399_000L));
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      textBlock =
          """
      '          <idle>-0       [000] d.h2.    14.699627: unmap: IOMMU: x'   | 0  | 2 | 14699627000   | unmap | IOMMU: x
      '    kworker/u4:1-25      [001] ..s1.    14.700000: map: y'            | 1  | 1 | 14700000000   | map   | y
      '           <...>-1234    [002] d.Z1.  1234.123456789: map: y'         | 2  | 3 | 1234123456789 | map   | y
      '     nmi in task-5       [012] d.z..     3.000000: map: y'            | 12 | 3 | 3000000000    | map   | y
      '     my-prog [x]-77      [003] d.H..     0.000001: map: y'            | 3  | 2 | 1000          | map   | y
      '    kworker/u4:1-25      [001] d..1.     5.000007: map: y'            | 1  | 0 | 5000007000    | map   | y
      '  kworker/u4:1-25    [001]    15.000001: map: y'                      | 1  | 0 | 15000001000   | map   | y
      'a-b-c/d:e-9 [7] .... 1.5: x: y z'                                     | 7  | 0 | 1500000000    | x     | y z
      'worker-3 [1]-78 [004] ..s.. 2.000000: map: y'                         | 4  | 1 | 2000000000    | map   | y
      """)
  void lineHeaderFields(String text, int cpu, int irqLevel, long tsNs, String event, String body)
      throws Exception {
    FtraceLine line = new FtraceLine();
    assertThat(line.parse(text)).isTrue();
    assertThat(line.cpu()).isEqualTo(cpu);
    assertThat(line.irqLevel()).isEqualTo(irqLevel);
    assertThat(line.tsNs()).isEqualTo(tsNs);
    assertThat(line.event()).isEqualTo(event);
    assertThat(line.body()).isEqualTo(body);
  }

  @Test
  void headerAndBlankLinesAreNotEvents() throws Exception {
    FtraceLine line = new FtraceLine();
    assertThat(line.parse("# tracer: nop")).isFalse();
    assertThat(line.parse("   #  |  |")).isFalse();
    assertThat(line.parse("")).isFalse();
    assertThat(line.parse("      ")).isFalse();
  }

  // ---- iommu:* tracepoints ----

  @Test
  void mapAndUnmapInTheFormatsAfterAndBefore514() {
    // No kprobe context: the payload is all the line gives; nothing names the domain, so they stay
    // MISSING.
    Imported r =
        Imported.of(
            """
        x-1 [000] ..... 1.000001: map: IOMMU: iova=0x00000000ffffc000 - 0x00000000ffffd000 paddr=0x000000010e2b9000 size=4096
        x-1 [000] ..... 1.000002: map: IOMMU: iova=0x00000000fff00000 paddr=0x0000000123400000 size=2097152
        x-1 [000] ..... 1.000003: unmap: IOMMU: iova=0x00000000ffffc000 - 0x00000000ffffd000 size=4096 unmapped_size=4096
        x-1 [000] ..... 1.000004: unmap: IOMMU: iova=0x00000000fff00000 size=2097152 unmapped_size=2097152
        x-1 [000] ..... 1.000005: unmap: IOMMU: iova=0x00000000ffe00000 size=8192 unmapped_size=4096
        """);

    assertThat(r.rejected()).isEmpty();
    assertThat(r.allFields())
        .containsExactly(
            tuple(
                MAP,
                "map",
                -1,
                null,
                MISSING,
                new Mapping(0xffffc000L, 4096L, 0x10e2b9000L, 0, null)),
            tuple(
                MAP,
                "map",
                -1,
                null,
                MISSING,
                new Mapping(0xfff00000L, 2097152L, 0x123400000L, 0, null)),
            tuple(
                UNMAP, "unmap", -1, null, MISSING, new Unmapping(0xffffc000L, 4096L, 4096L, null)),
            tuple(
                UNMAP,
                "unmap",
                -1,
                null,
                MISSING,
                new Unmapping(0xfff00000L, 2097152L, 2097152L, null)),
            tuple(
                UNMAP, "unmap", -1, null, MISSING, new Unmapping(0xffe00000L, 8192L, 4096L, null)));
    assertThat(r.events()).extracting(IommuEvent::getSeq).containsExactly(1L, 2L, 3L, 4L, 5L);
    assertThat(r.stats().mapUnmapAttribution()).containsExactlyEntriesOf(Map.of(MISSING, 5L));
  }

  @Test
  void unmapSizeBeyondASignedLongIsImportedAsPrinted() {
    // %zu prints sizes up to 2^64 - 1; the unmap ends a live mapping all the same.
    Imported r =
        Imported.of(
            BOOT
                + """
          kworker/0:1H-38 [000] d..1. 14.1: iommu_dma_map: (__iommu_dma_map+0x0/0xf0) dev="0000:00:04.0" phys=0x10e2b9000 size=4096 prot=5 dma_mask=0xffffffffffffffff
          kworker/0:1H-38 [000] d..1. 14.2: alloc_iova_fast: (alloc_iova_fast+0x0/0x280) iovad=0xff3deedd190ad808 size=1 limit_pfn=0xfffff flush_rcache=0
          kworker/0:1H-38 [000] d..1. 14.3: alloc_iova_fast_ret: (iommu_dma_alloc_iova+0xb9/0xe0 <- alloc_iova_fast) pfn=0x10000
          kworker/0:1H-38 [000] d..1. 14.4: map: IOMMU: iova=0x0000000010000000 - 0x0000000010001000 paddr=0x000000010e2b9000 size=4096
                 <idle>-0 [000] d.h1. 20.1: iommu_dma_unmap: (__iommu_dma_unmap+0x0/0x2d0) dev="0000:00:04.0" dma=0x10000000 size=4096
                 <idle>-0 [000] d.h1. 20.2: unmap: IOMMU: iova=0x0000000010000000 - 0x000000000fffffff size=18446744073709551615 unmapped_size=4096
                 <idle>-0 [001] d.h1. 20.3: unmap: IOMMU: iova=0x0000000010000000 - 0x0000000010001000 size=4096 unmapped_size=4096
        """);

    assertThat(r.rejected()).isEmpty();
    assertThat(fields(r.line(BOOT_LINES + 6)))
        .isEqualTo(
            tuple(UNMAP, "unmap", 1, A, CPU_CONTEXT, new Unmapping(0x10000000L, -1L, 4096L, null)));
    // the mapping is gone: a later unmap there without context finds no live mapping to name its
    // domain
    assertThat(r.line(BOOT_LINES + 7).getAttribution()).isEqualTo(MISSING);
    assertThat(r.stats().events()).isEqualTo(r.events().size());
  }

  @Test
  void groupAttachAndPageFaultTracepoints() {
    Imported r =
        Imported.of(
            """
        init-1 [001] ..... 2.141873: add_device_to_group: IOMMU: groupID=1 device=0000:00:04.0
        init-1 [001] ..... 2.149388: attach_device_to_domain: IOMMU: device=0000:00:04.0
        init-1 [001] ..... 2.149399: init_iova_domain: (init_iova_domain+0x0/0x90) iovad=0xff3deedd190ad808 granule=4096 start_pfn=0x1
        init-1 [001] ..... 2.149500: attach_device_to_domain: IOMMU: device=0000:00:04.0
        kworker/0:2-99 [000] d.h1. 9.000000: io_page_fault: IOMMU:nvme 0000:00:04.0 iova=0x00000000fffe0000 flags=0x0020
        kworker/0:2-99 [000] d.h1. 9.000001: io_page_fault: IOMMU:e1000e 0000:00:06.0 iova=0x0000000000001000 flags=0x0001
        rmmod-300 [000] ..... 9.500000: remove_device_from_group: IOMMU: groupID=1 device=0000:00:04.0
        """);

    assertThat(r.rejected()).isEmpty();
    assertThat(r.allFields())
        .containsExactly(
            tuple(DEVICE_ADD, "add_device_to_group", -1, A, NOT_NEEDED, new DeviceBinding(1)),
            // attach comes before the IOVA domain exists: it names the device, not yet its domain
            tuple(ATTACH, "attach_device_to_domain", -1, A, TRACE, new DeviceBinding(1)),
            tuple(
                IOVA_DOMAIN_INIT,
                "init_iova_domain",
                1,
                A,
                CPU_CONTEXT,
                new IovaDomainInit(4096L, 1L, 0xff3deedd190ad808L, 1)),
            tuple(ATTACH, "attach_device_to_domain", 1, A, TRACE, new DeviceBinding(1)),
            tuple(
                IO_PAGE_FAULT,
                "io_page_fault",
                1,
                A,
                TRACE,
                new PageFault(0xfffe0000L, 0x20, "nvme")),
            // a device never seen before gets a domain of its own
            tuple(
                IO_PAGE_FAULT,
                "io_page_fault",
                2,
                "0000:00:06.0",
                TRACE,
                new PageFault(0x1000L, 1, "e1000e")),
            tuple(
                DEVICE_REMOVE,
                "remove_device_from_group",
                -1,
                A,
                NOT_NEEDED,
                new DeviceBinding(1)));
  }

  // ---- dma:* tracepoints (include/trace/events/dma.h, Linux 6.12+) ----

  /**
   * Every dma:* event as TP_printk prints it: dma_addr and phys_addr with %llx (no 0x), sizes with
   * %zu, arrays with __print_array ({0x..,0x..}; lengths are u32), attrs and gfp flags with
   * __print_flags (empty when none).
   */
  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = ';',
      nullValues = "null",
      textBlock =
          """
      dma_map_page ; 0000:00:04.0 dir=TO_DEVICE dma_addr=ffffb110 size=16 phys_addr=11aa30110 attrs= ; DMA_MAP ; 0xffffb110 ; 16 ; 0x11aa30110 ; TO_DEVICE ; '' ; null ; null
      dma_map_resource ; 0000:00:04.0 dir=BIDIRECTIONAL dma_addr=fffff000 size=4096 phys_addr=fed00000 attrs=SKIP_CPU_SYNC ; DMA_MAP ; 0xfffff000 ; 4096 ; 0xfed00000 ; BIDIRECTIONAL ; SKIP_CPU_SYNC ; null ; null
      dma_map_phys ; 0000:00:04.0 dir=FROM_DEVICE dma_addr=ffffe000 size=4096 phys_addr=10e2b9000 attrs=WEAK_ORDERING|SKIP_CPU_SYNC ; DMA_MAP ; 0xffffe000 ; 4096 ; 0x10e2b9000 ; FROM_DEVICE ; WEAK_ORDERING|SKIP_CPU_SYNC ; null ; null
      dma_unmap_page ; 0000:00:04.0 dir=TO_DEVICE dma_addr=ffffb110 size=16 attrs= ; DMA_UNMAP ; 0xffffb110 ; 16 ; null ; TO_DEVICE ; '' ; null ; null
      dma_unmap_resource ; 0000:00:04.0 dir=BIDIRECTIONAL dma_addr=fffff000 size=4096 attrs=SKIP_CPU_SYNC ; DMA_UNMAP ; 0xfffff000 ; 4096 ; null ; BIDIRECTIONAL ; SKIP_CPU_SYNC ; null ; null
      dma_unmap_phys ; 0000:00:04.0 dir=FROM_DEVICE dma_addr=ffffe000 size=4096 attrs= ; DMA_UNMAP ; 0xffffe000 ; 4096 ; null ; FROM_DEVICE ; '' ; null ; null
      dma_alloc ; 0000:00:04.0 dir=BIDIRECTIONAL dma_addr=ffffd000 size=8192 virt_addr=000000009a4f1c2e flags=GFP_KERNEL|__GFP_ZERO attrs= ; DMA_ALLOC ; 0xffffd000 ; 8192 ; null ; BIDIRECTIONAL ; '' ; null ; null
      dma_alloc_pages ; 0000:00:04.0 dir=FROM_DEVICE dma_addr=ffffd000 size=8192 virt_addr=000000009a4f1c2e flags=GFP_KERNEL attrs= ; DMA_ALLOC ; 0xffffd000 ; 8192 ; null ; FROM_DEVICE ; '' ; null ; null
      dma_alloc_sgt ; 0000:00:04.0 dir=FROM_DEVICE dma_addr=ffc00000 size=65536 phys_addrs={0x10a000000,0x10a010000} flags=GFP_KERNEL attrs= ; DMA_ALLOC ; 0xffc00000 ; 65536 ; 0x10a000000 ; FROM_DEVICE ; '' ; 2 ; null
      dma_alloc_sgt_err ; 0000:00:04.0 dir=FROM_DEVICE dma_addr=0 size=65536 virt_addr=0000000000000000 flags=GFP_KERNEL attrs= ; DMA_ALLOC ; null ; 65536 ; null ; FROM_DEVICE ; '' ; null ; null
      dma_free ; 0000:00:04.0 dir=BIDIRECTIONAL dma_addr=ffffd000 size=8192 virt_addr=000000009a4f1c2e attrs= ; DMA_FREE ; 0xffffd000 ; 8192 ; null ; BIDIRECTIONAL ; '' ; null ; null
      dma_free_pages ; 0000:00:04.0 dir=FROM_DEVICE dma_addr=ffffd000 size=8192 virt_addr=000000009a4f1c2e attrs= ; DMA_FREE ; 0xffffd000 ; 8192 ; null ; FROM_DEVICE ; '' ; null ; null
      dma_free_sgt ; 0000:00:04.0 dir=FROM_DEVICE dma_addr=ffc00000 size=65536 phys_addrs={0x10a000000,0x10a010000} ; DMA_FREE ; 0xffc00000 ; 65536 ; 0x10a000000 ; FROM_DEVICE ; null ; 2 ; null
      dma_map_sg ; 0000:00:05.0 dir=FROM_DEVICE dma_addrs={0xfff30000,0xfff50000} sizes={0x10000,0x2000} phys_addrs={0x10a000000,0x10a010000,0x10b000000} attrs= ; DMA_MAP_SG ; 0xfff30000 ; 73728 ; 0x10a000000 ; FROM_DEVICE ; '' ; 3 ; 2
      dma_map_sg ; 0000:00:05.0 dir=FROM_DEVICE nents=3/3 ents=2/2 dma_addrs={0xfff30000,0xfff50000} sizes={0x10000,0x2000} phys_addrs={0x10a000000,0x10a010000,0x10b000000} attrs= ; DMA_MAP_SG ; 0xfff30000 ; 73728 ; 0x10a000000 ; FROM_DEVICE ; '' ; 3 ; 2
      dma_map_sg_err ; 0000:00:05.0 dir=TO_DEVICE dma_addrs={0x10a000000,0x10a010000} err=-12 attrs= ; DMA_MAP_SG ; null ; null ; 0x10a000000 ; TO_DEVICE ; '' ; 2 ; 0
      dma_unmap_sg ; 0000:00:05.0 dir=FROM_DEVICE phys_addrs={0x10a000000,0x10a010000,0x10b000000} attrs= ; DMA_UNMAP_SG ; null ; null ; 0x10a000000 ; FROM_DEVICE ; '' ; 3 ; null
      dma_sync_single_for_cpu ; 0000:00:04.0 dir=FROM_DEVICE dma_addr=ffffb110 size=16 ; DMA_SYNC ; 0xffffb110 ; 16 ; null ; FROM_DEVICE ; null ; null ; null
      dma_sync_single_for_device ; 0000:00:04.0 dir=TO_DEVICE dma_addr=ffffb110 size=16 ; DMA_SYNC ; 0xffffb110 ; 16 ; null ; TO_DEVICE ; null ; null ; null
      dma_sync_sg_for_cpu ; 0000:00:05.0 dir=FROM_DEVICE dma_addrs={0xfff30000,0xfff50000} sizes={0x10000,0x2000} ; DMA_SYNC ; 0xfff30000 ; 73728 ; null ; FROM_DEVICE ; null ; 2 ; null
      dma_sync_sg_for_device ; 0000:00:05.0 dir=TO_DEVICE dma_addrs={0xfff30000} sizes={0x10000} ; DMA_SYNC ; 0xfff30000 ; 65536 ; null ; TO_DEVICE ; null ; 1 ; null
      """)
  void dmaTracepoint(
      String event,
      String body,
      EventType type,
      String dmaAddr,
      Long size,
      String phys,
      String dir,
      String attrs,
      Integer nents,
      Integer mapped) {
    Imported r =
        Imported.of("kworker/u4:1-25 [000] ..... 100.000000: " + event + ": " + body + "\n");

    assertThat(r.rejected()).isEmpty();
    String device = body.substring(0, body.indexOf(' '));
    assertThat(r.allFields())
        .containsExactly(
            tuple(
                type,
                event,
                1,
                device,
                TRACE,
                new DmaApiCall(
                    hex(dmaAddr), size, hex(phys), dir, attrs, null, null, nents, mapped)));
  }

  @Test
  void dmaMapSgCutAt128EntriesKeepsTheFullCounts() {
    String phys =
        IntStream.range(0, 128)
            .mapToObj(i -> "0x" + Long.toHexString(0x10a000000L + i * 0x1000L))
            .collect(Collectors.joining(",", "{", "}"));
    Imported r =
        Imported.of(
            "fio-9 [001] ..... 5.000000: dma_map_sg: 0000:00:05.0 dir=TO_DEVICE nents=128/130 "
                + "ents=1/1 [TRUNCATED] dma_addrs={0xffe00000} sizes={0x82000} phys_addrs="
                + phys
                + " attrs=\n");

    assertThat(r.rejected()).isEmpty();
    assertThat(r.only("dma_map_sg").getPayload())
        .isEqualTo(
            new DmaApiCall(
                0xffe00000L, 0x82000L, 0x10a000000L, "TO_DEVICE", "", null, null, 130, 1));
  }

  @Test
  void mapWithoutKprobesTakesItsDeviceFromTheDmaTracepointThatFollowsOnItsCpu() {
    Imported r =
        Imported.of(
            """
        kworker/u4:1-25 [000] ..... 100.000000100: map: IOMMU: iova=0x00000000ffffe000 - 0x00000000fffff000 paddr=0x000000010e2b9000 size=4096
        ksoftirqd/1-20  [001] ..s.. 100.000000150: map: IOMMU: iova=0x00000000fff00000 - 0x00000000fff01000 paddr=0x000000010e2ba000 size=4096
        kworker/u4:1-25 [000] ..... 100.000000200: dma_map_phys: 0000:00:04.0 dir=FROM_DEVICE dma_addr=ffffe040 size=64 phys_addr=10e2b9040 attrs=
        kworker/u4:1-25 [000] ..... 100.000000300: dma_map_phys: 0000:00:04.0 dir=FROM_DEVICE dma_addr=fff00000 size=4096 phys_addr=10e2ba000 attrs=
        """);

    assertThat(r.rejected()).isEmpty();
    assertThat(r.allFields())
        .containsExactly(
            tuple(
                MAP, "map", 1, A, INFERRED, new Mapping(0xffffe000L, 4096L, 0x10e2b9000L, 0, null)),
            // the second map is on CPU 1: a dma:* line on CPU 0 says nothing about it, even at the
            // same address
            tuple(
                MAP,
                "map",
                -1,
                null,
                MISSING,
                new Mapping(0xfff00000L, 4096L, 0x10e2ba000L, 0, null)),
            tuple(
                DMA_MAP,
                "dma_map_phys",
                1,
                A,
                TRACE,
                new DmaApiCall(
                    0xffffe040L, 64L, 0x10e2b9040L, "FROM_DEVICE", "", null, null, null, null)),
            tuple(
                DMA_MAP,
                "dma_map_phys",
                1,
                A,
                TRACE,
                new DmaApiCall(
                    0xfff00000L, 4096L, 0x10e2ba000L, "FROM_DEVICE", "", null, null, null, null)));
    assertThat(r.events()).extracting(IommuEvent::getSeq).containsExactly(1L, 2L, 3L, 4L);
    assertThat(r.events())
        .extracting(IommuEvent::getTsNs)
        .containsExactly(100_000_000_100L, 100_000_000_150L, 100_000_000_200L, 100_000_000_300L);
  }

  @Test
  void scatterGatherMapsTakeTheirDeviceFromDmaMapSgAndTheirUnmapFromTheLiveMapping() {
    // Tracepoints only: map_sg's maps wait for dma_map_sg (which lists every DMA segment);
    // dma_unmap_sg names only
    // physical addresses and fires before the unmap, which then finds its domain by the live
    // mapping it ends.
    Imported r =
        Imported.of(
            """
        fio-9 [001] ..... 5.000001: map: IOMMU: iova=0x00000000fff30000 - 0x00000000fff40000 paddr=0x000000010a000000 size=65536
        fio-9 [001] ..... 5.000002: map: IOMMU: iova=0x00000000fff50000 - 0x00000000fff52000 paddr=0x000000010b000000 size=8192
        fio-9 [001] ..... 5.000003: dma_map_sg: 0000:00:05.0 dir=FROM_DEVICE dma_addrs={0xfff30000,0xfff50000} sizes={0x10000,0x2000} phys_addrs={0x10a000000,0x10a010000,0x10b000000} attrs=
        <idle>-0 [001] d.h1. 5.000100: dma_unmap_sg: 0000:00:05.0 dir=FROM_DEVICE phys_addrs={0x10a000000,0x10a010000,0x10b000000} attrs=
        <idle>-0 [001] d.h1. 5.000101: unmap: IOMMU: iova=0x00000000fff30000 - 0x00000000fff52000 size=139264 unmapped_size=139264
        """);

    assertThat(r.rejected()).isEmpty();
    assertThat(r.ofType(MAP))
        .extracting(Imported::fields)
        .containsExactly(
            tuple(
                MAP,
                "map",
                1,
                B,
                INFERRED,
                new Mapping(0xfff30000L, 65536L, 0x10a000000L, 0, null)),
            tuple(
                MAP,
                "map",
                1,
                B,
                INFERRED,
                new Mapping(0xfff50000L, 8192L, 0x10b000000L, 0, null)));
    assertThat(fields(r.line(5)))
        .isEqualTo(
            tuple(
                UNMAP,
                "unmap",
                1,
                B,
                INFERRED,
                new Unmapping(0xfff30000L, 139264L, 139264L, null)));
  }

  // ---- kprobes ----

  @Test
  void lazyMapUnmapAndTimerFlushKprobes() {
    Imported r =
        Imported.of(
            BOOT
                + """
          insmod-157 [001] d..1. 12.471477: iommu_dma_map: (__iommu_dma_map+0x0/0xf0) dev="0000:00:04.0" phys=0x11aa30110 size=16 prot=5 dma_mask=0xffffffffffffffff
          insmod-157 [001] d..1. 12.471480: alloc_iova_fast: (alloc_iova_fast+0x0/0x280) iovad=0xff3deedd190ad808 size=1 limit_pfn=0xfffff flush_rcache=0
          insmod-157 [001] d..1. 12.471482: alloc_iova: (alloc_iova+0x0/0x270) iovad=0xff3deedd190ad808 size=1 limit_pfn=0xfffff size_aligned=1
          insmod-157 [001] d..1. 12.471484: alloc_iova_ret: (alloc_iova_fast+0xe9/0x280 <- alloc_iova) pfn_hi=0xffffb pfn_lo=0xffffb
          insmod-157 [001] d..1. 12.471486: alloc_iova_fast_ret: (iommu_dma_alloc_iova+0xb9/0xe0 <- alloc_iova_fast) pfn=0xffffb
          insmod-157 [001] d..1. 12.471490: map: IOMMU: iova=0x00000000ffffb000 - 0x00000000ffffc000 paddr=0x000000011aa30000 size=4096
          insmod-157 [001] d..1. 12.471709: iommu_dma_map_ret: (iommu_dma_map_page+0xba/0x260 <- __iommu_dma_map) dma=0xffffb110
            <idle>-0 [001] d.h1. 12.472459: iommu_dma_unmap: (__iommu_dma_unmap+0x0/0x2d0) dev="0000:00:04.0" dma=0xffffb110 size=16
            <idle>-0 [001] d.h1. 12.472460: unmap: IOMMU: iova=0x00000000ffffb000 - 0x00000000ffffc000 size=4096 unmapped_size=4096
            <idle>-0 [001] d.h2. 12.472916: fq_ring_free: (fq_ring_free+0x0/0xa0) cookie=0xff3deedd190ad800 fq=0xff80615e7fd02810
          insmod-157 [001] ..s.. 12.487298: fq_flush_timeout: (fq_flush_timeout+0x0/0xa0) timer=0xff3deedd190ad8a0
          insmod-157 [001] ..s.. 12.487335: fq_flush_iotlb: (fq_flush_iotlb+0x0/0x40) cookie=0xff3deedd190ad800
          insmod-157 [001] ..s.. 12.487373: intel_flush_iotlb_all: (intel_flush_iotlb_all+0x0/0x110) domain=0xff3deedd191cfb90
          insmod-157 [001] d.s1. 12.487400: qi_submit: iotlb_inv dmar0: 0x500e2 0x0 0x0 0x0
          insmod-157 [001] ..s.. 12.487450: fq_ring_free: (fq_ring_free+0x0/0xa0) cookie=0xff3deedd190ad800 fq=0xff80615e7fd02810
          insmod-157 [001] d.s1. 12.487557: free_iova_fast: (free_iova_fast+0x0/0x1a0) iovad=0xff3deedd190ad808 pfn=0xffffb size=1
          insmod-157 [001] ..s.. 12.503298: fq_flush_timeout: (fq_flush_timeout+0x0/0xa0) timer=0xff3deedd190ad8a0
        """);

    assertThat(r.rejected()).isEmpty();
    assertThat(r.allFields().subList(BOOT_LINES, r.events().size()))
        .containsExactly(
            tuple(
                DMA_MAP,
                "iommu_dma_map",
                1,
                A,
                TRACE,
                new DmaApiCall(null, 16L, 0x11aa30110L, null, null, 5, -1L, null, null)),
            tuple(
                IOVA_ALLOC_REQUEST,
                "alloc_iova_fast",
                1,
                A,
                TRACE,
                new IovaAllocation(FAST, 1L, 0xfffffL, null, null, true, false)),
            tuple(
                IOVA_ALLOC_REQUEST,
                "alloc_iova",
                1,
                A,
                TRACE,
                new IovaAllocation(RBTREE, 1L, 0xfffffL, null, null, true, false)),
            tuple(
                IOVA_ALLOC,
                "alloc_iova_ret",
                1,
                A,
                CPU_CONTEXT,
                new IovaAllocation(RBTREE, 1L, 0xfffffL, 0xffffbL, null, true, false)),
            // alloc_iova ran inside alloc_iova_fast: the per-CPU cache missed
            tuple(
                IOVA_ALLOC,
                "alloc_iova_fast_ret",
                1,
                A,
                CPU_CONTEXT,
                new IovaAllocation(FAST, 1L, 0xfffffL, 0xffffbL, false, true, false)),
            tuple(
                MAP,
                "map",
                1,
                A,
                CPU_CONTEXT,
                new Mapping(0xffffb000L, 4096L, 0x11aa30000L, 5, null)),
            tuple(DMA_MAP_DONE, "iommu_dma_map_ret", 1, A, CPU_CONTEXT, dmaAddr(0xffffb110L)),
            tuple(
                DMA_UNMAP,
                "iommu_dma_unmap",
                1,
                A,
                TRACE,
                new DmaApiCall(0xffffb110L, 16L, null, null, null, null, null, null, null)),
            tuple(
                UNMAP, "unmap", 1, A, CPU_CONTEXT, new Unmapping(0xffffb000L, 4096L, 4096L, null)),
            tuple(
                FQ_ENQUEUE,
                "fq_ring_free",
                1,
                A,
                TRACE,
                new FlushQueueOp(0xffffb000L, 4096L, FQ, COOKIE_A, FlushTrigger.UNKNOWN)),
            // the timer is not known yet; fq_flush_iotlb below teaches it
            tuple(
                FQ_TIMEOUT,
                "fq_flush_timeout",
                -1,
                null,
                MISSING,
                new FlushQueueOp(null, null, null, TIMER_A, FlushTrigger.UNKNOWN)),
            tuple(
                FQ_FLUSH,
                "fq_flush_iotlb",
                1,
                A,
                TRACE,
                new FlushQueueOp(null, null, null, COOKIE_A, FlushTrigger.FQ_TIMER)),
            tuple(
                IOTLB_FLUSH_REQUEST,
                "intel_flush_iotlb_all",
                1,
                A,
                CPU_CONTEXT,
                request(DOMAIN, 0, 0, false, FQ_TIMER)),
            tuple(
                IOTLB_FLUSH,
                "qi_submit iotlb_inv",
                1,
                A,
                CPU_CONTEXT,
                new IotlbInvalidation(
                    DOMAIN,
                    0L,
                    0L,
                    -1,
                    false,
                    5,
                    null,
                    null,
                    "dmar0",
                    FQ_TIMER,
                    List.of(0x500e2L, 0L, 0L, 0L))),
            tuple(
                FQ_REAP,
                "fq_ring_free",
                1,
                A,
                TRACE,
                new FlushQueueOp(null, null, FQ, COOKIE_A, FlushTrigger.UNKNOWN)),
            tuple(IOVA_FREE, "free_iova_fast", 1, A, TRACE, new IovaFree(FAST, 0xffffbL, 1L)),
            tuple(
                FQ_TIMEOUT,
                "fq_flush_timeout",
                1,
                null,
                INFERRED,
                new FlushQueueOp(null, null, null, TIMER_A, FlushTrigger.UNKNOWN)));
    assertThat(r.events())
        .extracting(IommuEvent::getSeq)
        .containsExactlyElementsOf(
            IntStream.rangeClosed(1, BOOT_LINES + 17).mapToObj(i -> (long) i).toList());
    assertThat(r.stats().mapUnmapAttribution()).containsExactlyEntriesOf(Map.of(CPU_CONTEXT, 2L));
  }

  @Test
  void strictUnmapKprobes() {
    Imported r =
        Imported.of(
            BOOT
                + """
          kworker/0:1H-38 [000] d..1. 14.699459: iommu_dma_map: (__iommu_dma_map+0x0/0xf0) dev="0000:00:04.0" phys=0x10e9cf040 size=48 prot=5 dma_mask=0xffffffffffffffff
          kworker/0:1H-38 [000] d..1. 14.699461: alloc_iova_fast: (alloc_iova_fast+0x0/0x280) iovad=0xff3deedd190ad808 size=1 limit_pfn=0xfffff flush_rcache=0
          kworker/0:1H-38 [000] d..1. 14.699462: alloc_iova_fast_ret: (iommu_dma_alloc_iova+0xb9/0xe0 <- alloc_iova_fast) pfn=0xffffa
          kworker/0:1H-38 [000] d..1. 14.699463: map: IOMMU: iova=0x00000000ffffa000 - 0x00000000ffffb000 paddr=0x000000010e9cf000 size=4096
          kworker/0:1H-38 [000] d..1. 14.699465: iommu_dma_map_ret: (iommu_dma_map_page+0xba/0x260 <- __iommu_dma_map) dma=0xffffa040
                 <idle>-0 [000] d.h2. 14.699624: iommu_dma_unmap: (__iommu_dma_unmap+0x0/0x2d0) dev="0000:00:04.0" dma=0xffffa040 size=48
                 <idle>-0 [000] d.h2. 14.699627: unmap: IOMMU: iova=0x00000000ffffa000 - 0x00000000ffffb000 size=4096 unmapped_size=4096
                 <idle>-0 [000] d.h2. 14.699628: intel_iommu_tlb_sync: (intel_iommu_tlb_sync+0x0/0xf0) domain=0xff1fb9f1cdcb8b90 start=0xffffa000 end=0xffffafff pgsize=0x1000
                 <idle>-0 [000] d.h2. 14.699630: iommu_flush_iotlb_psi: (iommu_flush_iotlb_psi+0x0/0x190) iommu=0xff1fb9f1cc56cc00 domain=0xff1fb9f1cdcb8b40 pfn=0xffffa pages=1 ih=1 map=0
                 <idle>-0 [000] d.h3. 14.699633: qi_submit: iotlb_inv dmar0: 0x300f2 0xffffa000 0x0 0x0
                 <idle>-0 [000] d.h2. 14.699636: free_iova_fast: (free_iova_fast+0x0/0x1a0) iovad=0xff3deedd190ad808 pfn=0xffffa size=1
        """);

    assertThat(r.rejected()).isEmpty();
    assertThat(r.allFields().subList(BOOT_LINES + 5, r.events().size()))
        .containsExactly(
            tuple(
                DMA_UNMAP,
                "iommu_dma_unmap",
                1,
                A,
                TRACE,
                new DmaApiCall(0xffffa040L, 48L, null, null, null, null, null, null, null)),
            tuple(
                UNMAP, "unmap", 1, A, CPU_CONTEXT, new Unmapping(0xffffa000L, 4096L, 4096L, null)),
            tuple(
                IOTLB_FLUSH_REQUEST,
                "intel_iommu_tlb_sync",
                1,
                A,
                CPU_CONTEXT,
                request(PAGE, 0xffffa000L, 0x1000, false, SYNC)),
            tuple(
                IOTLB_FLUSH_REQUEST,
                "iommu_flush_iotlb_psi",
                1,
                A,
                CPU_CONTEXT,
                request(PAGE, 0xffffa000L, 0x1000, true, SYNC)),
            tuple(
                IOTLB_FLUSH,
                "qi_submit iotlb_inv",
                1,
                A,
                CPU_CONTEXT,
                new IotlbInvalidation(
                    PAGE,
                    0xffffa000L,
                    0x1000L,
                    0,
                    false,
                    3,
                    null,
                    null,
                    "dmar0",
                    SYNC,
                    List.of(0x300f2L, 0xffffa000L, 0L, 0L))),
            tuple(IOVA_FREE, "free_iova_fast", 1, A, TRACE, new IovaFree(FAST, 0xffffaL, 1L)));
  }

  @Test
  void scatterGatherAndRbtreeKprobes() {
    Imported r =
        Imported.of(
            BOOT
                + """
          kworker/1:1H-56 [001] ..... 23.287023: iommu_dma_map_sg: (iommu_dma_map_sg+0x0/0x400) dev="0000:00:05.0" nents=16 dir=1
          kworker/1:1H-56 [001] ..... 23.287100: alloc_iova_fast: (alloc_iova_fast+0x0/0x280) iovad=0xff3deedd190ade08 size=16 limit_pfn=0xfffff flush_rcache=0
          kworker/1:1H-56 [001] ..... 23.287200: alloc_iova_fast_ret: (iommu_dma_alloc_iova+0xb9/0xe0 <- alloc_iova_fast) pfn=0xfff30
          kworker/1:1H-56 [001] ..... 23.287300: map: IOMMU: iova=0x00000000fff30000 - 0x00000000fff40000 paddr=0x000000010a000000 size=65536
          kworker/1:1H-56 [001] ..... 23.287545: iommu_dma_map_sg_ret: (__dma_map_sg_attrs+0x29/0x90 <- iommu_dma_map_sg) mapped=1
                 <idle>-0 [001] d.h1. 23.288496: iommu_dma_unmap_sg: (iommu_dma_unmap_sg+0x0/0x100) dev="0000:00:05.0" sg_dma=0xfff30000 sg_dma_len=65536 nents=16 dir=1
                 <idle>-0 [001] d.h1. 23.288497: unmap: IOMMU: iova=0x00000000fff30000 - 0x00000000fff40000 size=65536 unmapped_size=65536
                 <idle>-0 [001] d.h2. 23.288498: fq_ring_free: (fq_ring_free+0x0/0xa0) cookie=0xff3deedd190ade00 fq=0xff80615e7fd02810
          kworker/1:1H-56 [001] d.s1. 29.845296: free_iova: (free_iova+0x0/0xa0) iovad=0xff3deedd190ade08 pfn=0xffd00
          kworker/1:1H-56 [001] d.s2. 29.845364: remove_iova: (remove_iova+0x0/0xa0) iovad=0xff3deedd190ade08 pfn_hi=0xffda9 pfn_lo=0xffd00
                  init-1  [001] .N... 29.900000: reserve_iova: (reserve_iova+0x0/0x170) iovad=0xff3deedd190ade08 pfn_lo=0xfee00 pfn_hi=0xfeeff
                  init-1  [001] ..... 29.900001: queue_iova: (queue_iova+0x0/0x1f0) cookie=0xff3deedd190ade00 pfn=0xfff30 pages=16 freelist=0x0
        """);

    assertThat(r.rejected()).isEmpty();
    assertThat(r.allFields().subList(BOOT_LINES, r.events().size()))
        .containsExactly(
            tuple(
                DMA_MAP_SG,
                "iommu_dma_map_sg",
                2,
                B,
                TRACE,
                new DmaApiCall(null, null, null, "1", null, null, null, 16, null)),
            tuple(
                IOVA_ALLOC_REQUEST,
                "alloc_iova_fast",
                2,
                B,
                TRACE,
                new IovaAllocation(FAST, 16L, 0xfffffL, null, null, true, false)),
            tuple(
                IOVA_ALLOC,
                "alloc_iova_fast_ret",
                2,
                B,
                CPU_CONTEXT,
                new IovaAllocation(FAST, 16L, 0xfffffL, 0xfff30L, true, true, false)),
            tuple(
                MAP,
                "map",
                2,
                B,
                CPU_CONTEXT,
                new Mapping(0xfff30000L, 65536L, 0x10a000000L, 1, null)),
            tuple(
                DMA_MAP_SG_DONE,
                "iommu_dma_map_sg_ret",
                2,
                B,
                CPU_CONTEXT,
                new DmaApiCall(null, null, null, null, null, null, null, null, 1)),
            tuple(
                DMA_UNMAP_SG,
                "iommu_dma_unmap_sg",
                2,
                B,
                TRACE,
                new DmaApiCall(0xfff30000L, 65536L, null, "1", null, null, null, 16, null)),
            tuple(
                UNMAP,
                "unmap",
                2,
                B,
                CPU_CONTEXT,
                new Unmapping(0xfff30000L, 65536L, 65536L, null)),
            tuple(
                FQ_ENQUEUE,
                "fq_ring_free",
                2,
                B,
                TRACE,
                new FlushQueueOp(0xfff30000L, 65536L, FQ, COOKIE_B, FlushTrigger.UNKNOWN)),
            tuple(IOVA_FREE, "free_iova", 2, B, TRACE, new IovaFree(RBTREE, 0xffd00L, null)),
            tuple(IOVA_REMOVE, "remove_iova", 2, B, TRACE, new IovaRange(0xffd00L, 0xffda9L)),
            tuple(IOVA_RESERVE, "reserve_iova", 2, B, TRACE, new IovaRange(0xfee00L, 0xfeeffL)),
            tuple(
                FQ_ENQUEUE,
                "queue_iova",
                2,
                B,
                TRACE,
                new FlushQueueOp(0xfff30000L, 65536L, null, COOKIE_B, FlushTrigger.UNKNOWN)));
  }

  @Test
  void kprobesAreKnownByTheirFunctionWhateverTheEventIsCalled() {
    Imported r =
        Imported.of(
            BOOT
                + """
          insmod-157 [001] d..1. 12.471477: dma_map: (__iommu_dma_map+0x0/0xf0) dev="0000:00:04.0" phys=0x11aa30000 size=4096 prot=3 dma_mask=0xffffffff
          insmod-157 [001] d..1. 12.471480: my_alloc: (alloc_iova_fast+0x0/0x280) iovad=0xff3deedd190ad808 size=1 limit_pfn=0xfffff flush_rcache=1
          insmod-157 [001] d..1. 12.471486: my_alloc_ret: (iommu_dma_alloc_iova+0xb9/0xe0 <- alloc_iova_fast) pfn=0xffffb
          insmod-157 [001] d..1. 12.471490: map: IOMMU: iova=0x00000000ffffb000 - 0x00000000ffffc000 paddr=0x000000011aa30000 size=4096
          insmod-157 [001] ..... 12.471500: fq_ring_free: (fq_ring_free+0x0/0xa0) cookie=0xff3deedd190ad800
        """);

    assertThat(r.rejected()).isEmpty();
    assertThat(r.stats().unknownKinds()).isEmpty();
    assertThat(r.allFields().subList(BOOT_LINES, r.events().size()))
        .containsExactly(
            tuple(
                DMA_MAP,
                "dma_map",
                1,
                A,
                TRACE,
                new DmaApiCall(null, 4096L, 0x11aa30000L, null, null, 3, 0xffffffffL, null, null)),
            tuple(
                IOVA_ALLOC_REQUEST,
                "my_alloc",
                1,
                A,
                TRACE,
                new IovaAllocation(FAST, 1L, 0xfffffL, null, null, true, true)),
            tuple(
                IOVA_ALLOC,
                "my_alloc_ret",
                1,
                A,
                CPU_CONTEXT,
                new IovaAllocation(FAST, 1L, 0xfffffL, 0xffffbL, true, true, true)),
            tuple(
                MAP,
                "map",
                1,
                A,
                CPU_CONTEXT,
                new Mapping(0xffffb000L, 4096L, 0x11aa30000L, 3, null)),
            // a probe without fq= does not say which ring
            tuple(
                FQ_REAP,
                "fq_ring_free",
                1,
                A,
                TRACE,
                new FlushQueueOp(null, null, null, COOKIE_A, FlushTrigger.UNKNOWN)));
    assertThat(r.stats().eventsBySource())
        .containsEntry("my_alloc", 1L)
        .containsEntry("dma_map", 1L);
  }

  @Test
  void dmaIommuProbesWithoutTheOptionalArguments() {
    // Probes defined with fewer fetch args: only dev and the address are needed to attribute the
    // unmap.
    Imported r =
        Imported.of(
            BOOT
                + """
          <idle>-0 [001] d.h1. 12.1: iommu_dma_unmap: (__iommu_dma_unmap+0x0/0x2d0) dev="0000:00:04.0" dma=0xffffb110
          <idle>-0 [001] d.h1. 12.2: unmap: IOMMU: iova=0x00000000ffffb000 - 0x00000000ffffc000 size=4096 unmapped_size=4096
          <idle>-0 [001] d.h1. 12.3: iommu_dma_unmap_sg: (iommu_dma_unmap_sg+0x0/0x100) dev="0000:00:05.0" sg_dma=0xfff30000
          <idle>-0 [001] d.h1. 12.4: unmap: IOMMU: iova=0x00000000fff30000 - 0x00000000fff40000 size=65536 unmapped_size=65536
        """);

    assertThat(r.rejected()).isEmpty();
    assertThat(r.allFields().subList(BOOT_LINES, r.events().size()))
        .containsExactly(
            tuple(DMA_UNMAP, "iommu_dma_unmap", 1, A, TRACE, dmaAddr(0xffffb110L)),
            tuple(
                UNMAP, "unmap", 1, A, CPU_CONTEXT, new Unmapping(0xffffb000L, 4096L, 4096L, null)),
            tuple(DMA_UNMAP_SG, "iommu_dma_unmap_sg", 2, B, TRACE, dmaAddr(0xfff30000L)),
            tuple(
                UNMAP,
                "unmap",
                2,
                B,
                CPU_CONTEXT,
                new Unmapping(0xfff30000L, 65536L, 65536L, null)));
  }

  @Test
  void failedAllocationsAndUnreadableReturnValues() {
    Imported r =
        Imported.of(
            BOOT
                + """
          insmod-157 [001] d..1. 12.0: iommu_dma_map: (__iommu_dma_map+0x0/0xf0) dev="0000:00:04.0" phys=0x11aa00000 size=2097152 prot=3 dma_mask=0xffffffff
          insmod-157 [001] d..1. 12.1: alloc_iova_fast: (alloc_iova_fast+0x0/0x280) iovad=0xff3deedd190ad808 size=512 limit_pfn=0xfffff flush_rcache=0
          insmod-157 [001] d..1. 12.2: alloc_iova: (alloc_iova+0x0/0x270) iovad=0xff3deedd190ad808 size=512 limit_pfn=0xfffff size_aligned=1
          insmod-157 [001] d..1. 12.3: alloc_iova_ret: (alloc_iova_fast+0xe9/0x280 <- alloc_iova) pfn_hi=(fault) pfn_lo=(fault)
          insmod-157 [001] d..1. 12.4: alloc_iova_fast_ret: (iommu_dma_alloc_iova+0xb9/0xe0 <- alloc_iova_fast) pfn=0x0
          insmod-157 [001] d..1. 12.5: iommu_dma_map_ret: (iommu_dma_map_page+0xba/0x260 <- __iommu_dma_map) dma=0xffffffffffffffff
        """);

    assertThat(r.rejected()).isEmpty();
    assertThat(r.allFields().subList(BOOT_LINES + 1, r.events().size()))
        .containsExactly(
            tuple(
                IOVA_ALLOC_REQUEST,
                "alloc_iova_fast",
                1,
                A,
                TRACE,
                new IovaAllocation(FAST, 512L, 0xfffffL, null, null, true, false)),
            tuple(
                IOVA_ALLOC_REQUEST,
                "alloc_iova",
                1,
                A,
                TRACE,
                new IovaAllocation(RBTREE, 512L, 0xfffffL, null, null, true, false)),
            tuple(
                IOVA_ALLOC,
                "alloc_iova_ret",
                1,
                A,
                CPU_CONTEXT,
                new IovaAllocation(RBTREE, 512L, 0xfffffL, null, null, true, false)),
            tuple(
                IOVA_ALLOC,
                "alloc_iova_fast_ret",
                1,
                A,
                CPU_CONTEXT,
                new IovaAllocation(FAST, 512L, 0xfffffL, null, false, true, false)),
            tuple(DMA_MAP_DONE, "iommu_dma_map_ret", 1, A, CPU_CONTEXT, dmaAddr(-1L)));
  }

  @Test
  void flushAllOutsideAChainFindsItsDomainByThePointerLearnedInOne() {
    // The pointers are learned from one full timer chain; afterwards each probe alone finds its
    // domain.
    Imported r =
        Imported.of(
            BOOT
                + """
          insmod-157 [001] ..s.. 12.487298: fq_flush_timeout: (fq_flush_timeout+0x0/0xa0) timer=0xff3deedd190ad8a0
          insmod-157 [001] ..s.. 12.487335: fq_flush_iotlb: (fq_flush_iotlb+0x0/0x40) cookie=0xff3deedd190ad800
          insmod-157 [001] ..s.. 12.487373: intel_flush_iotlb_all: (intel_flush_iotlb_all+0x0/0x110) domain=0xff3deedd191cfb90
          insmod-157 [001] d.s1. 12.487400: qi_submit: iotlb_inv dmar0: 0x500e2 0x0 0x0 0x0
              bash-5 [000] ..... 13.000000: intel_flush_iotlb_all: (intel_flush_iotlb_all+0x0/0x110) domain=0xff3deedd191cfb90
              bash-5 [000] ..... 13.000001: qi_submit: iotlb_inv dmar0: 0x500e2 0x0 0x0 0x0
        """);

    assertThat(r.rejected()).isEmpty();
    assertThat(fields(r.line(BOOT_LINES + 5)))
        .isEqualTo(
            tuple(
                IOTLB_FLUSH_REQUEST,
                "intel_flush_iotlb_all",
                1,
                A,
                CPU_CONTEXT,
                request(DOMAIN, 0, 0, false, FlushTrigger.EXPLICIT)));
    assertThat(fields(r.line(BOOT_LINES + 6)))
        .isEqualTo(
            tuple(
                IOTLB_FLUSH,
                "qi_submit iotlb_inv",
                1,
                A,
                CPU_CONTEXT,
                new IotlbInvalidation(
                    DOMAIN,
                    0L,
                    0L,
                    -1,
                    false,
                    5,
                    null,
                    null,
                    "dmar0",
                    FlushTrigger.EXPLICIT,
                    List.of(0x500e2L, 0L, 0L, 0L))));
  }

  // ---- attribution ----

  @Test
  void mapInATaskAndUnmapInAHardIrqThatInterruptsItAreEachAttributedToTheirOwnCall() {
    Imported r =
        Imported.of(
            BOOT
                + """
          kworker/0:1H-38 [000] d..1. 14.699741: iommu_dma_map: (__iommu_dma_map+0x0/0xf0) dev="0000:00:04.0" phys=0x10e2b9000 size=4096 prot=5 dma_mask=0xffffffffffffffff
          kworker/0:1H-38 [000] d..1. 14.699743: alloc_iova_fast: (alloc_iova_fast+0x0/0x280) iovad=0xff3deedd190ad808 size=1 limit_pfn=0xfffff flush_rcache=0
          kworker/0:1H-38 [000] d..1. 14.699744: alloc_iova_fast_ret: (iommu_dma_alloc_iova+0xb9/0xe0 <- alloc_iova_fast) pfn=0xffffc
          kworker/0:1H-38 [000] d.h2. 14.699745: iommu_dma_unmap: (__iommu_dma_unmap+0x0/0x2d0) dev="0000:00:05.0" dma=0xfff30000 size=65536
          kworker/0:1H-38 [000] d.h2. 14.699746: unmap: IOMMU: iova=0x00000000fff30000 - 0x00000000fff40000 size=65536 unmapped_size=65536
          kworker/0:1H-38 [000] d.h2. 14.699747: fq_ring_free: (fq_ring_free+0x0/0xa0) cookie=0xff3deedd190ade00 fq=0xff80615e7fc02810
          kworker/0:1H-38 [000] d..1. 14.699748: map: IOMMU: iova=0x00000000ffffc000 - 0x00000000ffffd000 paddr=0x000000010e2b9000 size=4096
          kworker/0:1H-38 [000] d..1. 14.699749: iommu_dma_map_ret: (iommu_dma_map_page+0xba/0x260 <- __iommu_dma_map) dma=0xffffc000
        """);

    assertThat(r.rejected()).isEmpty();
    assertThat(fields(r.line(BOOT_LINES + 5)))
        .isEqualTo(
            tuple(
                UNMAP,
                "unmap",
                2,
                B,
                CPU_CONTEXT,
                new Unmapping(0xfff30000L, 65536L, 65536L, null)));
    assertThat(fields(r.line(BOOT_LINES + 6)))
        .isEqualTo(
            tuple(
                FQ_ENQUEUE,
                "fq_ring_free",
                2,
                B,
                TRACE,
                new FlushQueueOp(
                    0xfff30000L, 65536L, 0xff80615e7fc02810L, COOKIE_B, FlushTrigger.UNKNOWN)));
    assertThat(fields(r.line(BOOT_LINES + 7)))
        .isEqualTo(
            tuple(
                MAP,
                "map",
                1,
                A,
                CPU_CONTEXT,
                new Mapping(0xffffc000L, 4096L, 0x10e2b9000L, 5, null)));
    // the task's __iommu_dma_map is still in progress after the interrupt
    assertThat(fields(r.line(BOOT_LINES + 8)))
        .isEqualTo(
            tuple(DMA_MAP_DONE, "iommu_dma_map_ret", 1, A, CPU_CONTEXT, dmaAddr(0xffffc000L)));
  }

  @Test
  void lazyUnmapWhoseDmaIommuKprobeWasMissedIsNamedByTheFqRingFreeThatQueuesIt() {
    // 0xfffe0000 was mapped before the capture started: no live mapping names its domain either.
    Imported r =
        Imported.of(
            BOOT
                + """
          <idle>-0 [001] d.h1. 20.000001: unmap: IOMMU: iova=0x00000000fffe0000 - 0x00000000fffe1000 size=4096 unmapped_size=4096
          <idle>-0 [001] d.h1. 20.000002: tracing_mark_write: something else meanwhile
          <idle>-0 [001] d.h2. 20.000003: fq_ring_free: (fq_ring_free+0x0/0xa0) cookie=0xff3deedd190ade00 fq=0xff80615e7fd02810
        """);

    assertThat(r.allFields().subList(BOOT_LINES, r.events().size()))
        .containsExactly(
            tuple(UNMAP, "unmap", 2, B, INFERRED, new Unmapping(0xfffe0000L, 4096L, 4096L, null)),
            tuple(
                MARKER,
                "tracing_mark_write",
                -1,
                null,
                NOT_NEEDED,
                new TraceMarker("something else meanwhile")),
            tuple(
                FQ_ENQUEUE,
                "fq_ring_free",
                2,
                B,
                TRACE,
                new FlushQueueOp(0xfffe0000L, 4096L, FQ, COOKIE_B, FlushTrigger.UNKNOWN)));
    assertThat(r.events()).extracting(IommuEvent::getSeq).isSorted();
    assertThat(r.stats().mapUnmapAttribution()).containsExactlyEntriesOf(Map.of(INFERRED, 1L));
  }

  @Test
  void unmapWhoseDmaIommuKprobeWasMissedIsNamedByTheOneDomainThatHasItMapped() {
    Imported r =
        Imported.of(
            BOOT
                + """
          kworker/0:1H-38 [000] d..1. 14.1: iommu_dma_map: (__iommu_dma_map+0x0/0xf0) dev="0000:00:05.0" phys=0x10e2b9000 size=4096 prot=5 dma_mask=0xffffffffffffffff
          kworker/0:1H-38 [000] d..1. 14.2: alloc_iova_fast: (alloc_iova_fast+0x0/0x280) iovad=0xff3deedd190ade08 size=1 limit_pfn=0xfffff flush_rcache=0
          kworker/0:1H-38 [000] d..1. 14.3: alloc_iova_fast_ret: (iommu_dma_alloc_iova+0xb9/0xe0 <- alloc_iova_fast) pfn=0xffffe
          kworker/0:1H-38 [000] d..1. 14.4: map: IOMMU: iova=0x00000000ffffe000 - 0x00000000fffff000 paddr=0x000000010e2b9000 size=4096
                 <idle>-0 [001] d.h1. 15.0: unmap: IOMMU: iova=0x00000000ffffe000 - 0x00000000fffff000 size=4096 unmapped_size=4096
        """);

    assertThat(fields(r.line(BOOT_LINES + 5)))
        .isEqualTo(
            tuple(UNMAP, "unmap", 2, B, INFERRED, new Unmapping(0xffffe000L, 4096L, 4096L, null)));
    assertThat(r.eventsBeforeFinish()).as("nothing had to wait").isEqualTo(BOOT_LINES + 5);
  }

  @Test
  void strictUnmapWhoseKprobesWereMissedIsNamedByThePageSelectiveInvalidation() {
    // The first unmap teaches the hardware domain id 3 of domain 1. In the second, every kprobe of
    // the nested
    // interrupt was missed (__iommu_dma_unmap, intel_iommu_tlb_sync, iommu_flush_iotlb_psi,
    // free_iova_fast);
    // the qi_submit tracepoint never is, and its range and domain id name the unmap's domain.
    Imported r =
        Imported.of(
            BOOT
                + """
          <idle>-0 [000] d.h2. 14.699624: iommu_dma_unmap: (__iommu_dma_unmap+0x0/0x2d0) dev="0000:00:04.0" dma=0xffffa040 size=48
          <idle>-0 [000] d.h2. 14.699627: unmap: IOMMU: iova=0x00000000ffffa000 - 0x00000000ffffb000 size=4096 unmapped_size=4096
          <idle>-0 [000] d.h2. 14.699628: intel_iommu_tlb_sync: (intel_iommu_tlb_sync+0x0/0xf0) domain=0xff1fb9f1cdcb8b90 start=0xffffa000 end=0xffffafff pgsize=0x1000
          <idle>-0 [000] d.h2. 14.699630: iommu_flush_iotlb_psi: (iommu_flush_iotlb_psi+0x0/0x190) iommu=0xff1fb9f1cc56cc00 domain=0xff1fb9f1cdcb8b40 pfn=0xffffa pages=1 ih=1 map=0
          <idle>-0 [000] d.h3. 14.699633: qi_submit: iotlb_inv dmar0: 0x300f2 0xffffa000 0x0 0x0
          <idle>-0 [000] d.h2. 14.699636: free_iova_fast: (free_iova_fast+0x0/0x1a0) iovad=0xff3deedd190ad808 pfn=0xffffa size=1
          <idle>-0 [000] d.h2. 14.800000: unmap: IOMMU: iova=0x00000000ffffd000 - 0x00000000ffffe000 size=4096 unmapped_size=4096
          <idle>-0 [000] d.h3. 14.800005: qi_submit: iotlb_inv dmar0: 0x300f2 0xffffd000 0x0 0x0
        """);

    assertThat(fields(r.line(BOOT_LINES + 7)))
        .isEqualTo(
            tuple(UNMAP, "unmap", 1, A, INFERRED, new Unmapping(0xffffd000L, 4096L, 4096L, null)));
    assertThat(fields(r.line(BOOT_LINES + 8)))
        .isEqualTo(
            tuple(
                IOTLB_FLUSH,
                "qi_submit iotlb_inv",
                1,
                A,
                INFERRED,
                new IotlbInvalidation(
                    PAGE,
                    0xffffd000L,
                    0x1000L,
                    0,
                    false,
                    3,
                    null,
                    null,
                    "dmar0",
                    FlushTrigger.UNKNOWN,
                    List.of(0x300f2L, 0xffffd000L, 0L, 0L))));
    assertThat(r.eventsBeforeFinish()).isEqualTo(r.events().size());
  }

  @Test
  void unmapOfAnIovaLiveInTwoDomainsStaysMissingWhenNothingNamesItsDomain() {
    String mapBoth =
        BOOT
            + """
        kworker/0:1H-38 [000] d..1. 14.1: iommu_dma_map: (__iommu_dma_map+0x0/0xf0) dev="0000:00:04.0" phys=0x10e2b9000 size=4096 prot=5 dma_mask=0xffffffffffffffff
        kworker/0:1H-38 [000] d..1. 14.2: alloc_iova_fast: (alloc_iova_fast+0x0/0x280) iovad=0xff3deedd190ad808 size=1 limit_pfn=0xfffff flush_rcache=0
        kworker/0:1H-38 [000] d..1. 14.3: alloc_iova_fast_ret: (iommu_dma_alloc_iova+0xb9/0xe0 <- alloc_iova_fast) pfn=0xffffe
        kworker/0:1H-38 [000] d..1. 14.4: map: IOMMU: iova=0x00000000ffffe000 - 0x00000000fffff000 paddr=0x000000010e2b9000 size=4096
        kworker/0:1H-38 [000] d..1. 14.5: iommu_dma_map: (__iommu_dma_map+0x0/0xf0) dev="0000:00:05.0" phys=0x10e2ba000 size=4096 prot=5 dma_mask=0xffffffffffffffff
        kworker/0:1H-38 [000] d..1. 14.6: alloc_iova_fast: (alloc_iova_fast+0x0/0x280) iovad=0xff3deedd190ade08 size=1 limit_pfn=0xfffff flush_rcache=0
        kworker/0:1H-38 [000] d..1. 14.7: alloc_iova_fast_ret: (iommu_dma_alloc_iova+0xb9/0xe0 <- alloc_iova_fast) pfn=0xffffe
        kworker/0:1H-38 [000] d..1. 14.8: map: IOMMU: iova=0x00000000ffffe000 - 0x00000000fffff000 paddr=0x000000010e2ba000 size=4096
               <idle>-0 [001] d.h1. 15.0: unmap: IOMMU: iova=0x00000000ffffe000 - 0x00000000fffff000 size=4096 unmapped_size=4096
        """;
    int unmapLine = BOOT_LINES + 9;

    Imported r = Imported.of(mapBoth);
    assertThat(fields(r.line(unmapLine)))
        .isEqualTo(
            tuple(
                UNMAP, "unmap", -1, null, MISSING, new Unmapping(0xffffe000L, 4096L, 4096L, null)));
    assertThat(r.eventsBeforeFinish()).as("held until the end").isEqualTo(unmapLine - 1);
    assertThat(r.stats().mapUnmapAttribution())
        .containsExactlyInAnyOrderEntriesOf(Map.of(CPU_CONTEXT, 2L, MISSING, 1L));

    // It waits only so long: after ATTRIBUTION_HORIZON_LINES more lines it leaves, still MISSING,
    // before the end.
    String later =
        "x-1 [000] ..... 16.0: tracing_mark_write: later\n"
            .repeat((int) FtraceImporter.ATTRIBUTION_HORIZON_LINES + 1);
    Imported waited = Imported.of(mapBoth + later);
    assertThat(fields(waited.line(unmapLine))).isEqualTo(fields(r.line(unmapLine)));
    assertThat(waited.eventsBeforeFinish()).isEqualTo(waited.events().size());
    assertThat(waited.events()).extracting(IommuEvent::getSeq).isSorted();
  }

  @Test
  void heldEventWaitsNoLongerThanTheHorizonAcrossFiles() {
    // Files of one host continue each other: a held event must not wait for the line number it had
    // in the first
    // file to come round again in the second (which, shorter, would hold everything after it to the
    // end).
    String marker = "x-1 [000] ..... 16.0: tracing_mark_write: later\n";
    String first =
        marker.repeat(10_000)
            + "<idle>-0 [001] d.h1. 17.0: unmap: IOMMU: iova=0x00000000ffffe000 - 0x00000000fffff000 size=4096 unmapped_size=4096\n";
    String second = marker.repeat((int) FtraceImporter.ATTRIBUTION_HORIZON_LINES + 10);

    Imported r = Imported.of(first, second);

    assertThat(r.line(10_001).getAttribution()).isEqualTo(MISSING);
    assertThat(r.eventsBeforeFinish()).isEqualTo(r.events().size());
    assertThat(r.events()).extracting(IommuEvent::getSeq).isSorted();
  }

  @Test
  void directMappingMadeBeforeItsGroupAttachesIsNamedByTheIovaDomainThatFollows() {
    // As in the shared captures: the 16 MiB identity map at IOVA 0 for the 00:1f.x group comes
    // before its attach.
    Imported r =
        Imported.of(
            """
                init-1       [001] .....     2.142224: add_device_to_group: IOMMU: groupID=6 device=0000:00:1f.0
                init-1       [001] .....     2.142273: add_device_to_group: IOMMU: groupID=6 device=0000:00:1f.2
                init-1       [001] .....     2.142305: add_device_to_group: IOMMU: groupID=6 device=0000:00:1f.3
                init-1       [001] .....     2.164400: map: IOMMU: iova=0x0000000000000000 - 0x0000000001000000 paddr=0x0000000000000000 size=16777216
                init-1       [001] .....     2.164547: attach_device_to_domain: IOMMU: device=0000:00:1f.0
                init-1       [001] .....     2.164565: attach_device_to_domain: IOMMU: device=0000:00:1f.2
                init-1       [001] .....     2.164570: attach_device_to_domain: IOMMU: device=0000:00:1f.3
                init-1       [001] .....     2.164575: init_iova_domain: (init_iova_domain+0x0/0x90) iovad=0xff3deedd190afa08 granule=4096 start_pfn=0x1
                init-1       [001] .....     2.171147: reserve_iova: (reserve_iova+0x0/0x170) iovad=0xff3deedd190afa08 pfn_lo=0x0 pfn_hi=0xfff
        """);

    assertThat(r.rejected()).isEmpty();
    assertThat(r.allFields().subList(3, 9))
        .containsExactly(
            tuple(MAP, "map", 1, "0000:00:1f.0", INFERRED, new Mapping(0L, 16777216L, 0L, 0, null)),
            tuple(
                ATTACH, "attach_device_to_domain", -1, "0000:00:1f.0", TRACE, new DeviceBinding(6)),
            tuple(
                ATTACH, "attach_device_to_domain", -1, "0000:00:1f.2", TRACE, new DeviceBinding(6)),
            tuple(
                ATTACH, "attach_device_to_domain", -1, "0000:00:1f.3", TRACE, new DeviceBinding(6)),
            tuple(
                IOVA_DOMAIN_INIT,
                "init_iova_domain",
                1,
                "0000:00:1f.0",
                CPU_CONTEXT,
                new IovaDomainInit(4096L, 1L, 0xff3deedd190afa08L, 6)),
            // three devices share the domain: none is the sole one
            tuple(IOVA_RESERVE, "reserve_iova", 1, null, TRACE, new IovaRange(0L, 0xfffL)));
    assertThat(r.events()).extracting(IommuEvent::getSeq).isSorted();
  }

  @Test
  void deviceAttachedWithoutAnIovaDomainIsNotBoundToTheNextGroupsDomain() {
    // 00:02.0 attaches to an identity domain (no init_iova_domain follows); 00:04.0's DMA domain is
    // set up next.
    Imported r =
        Imported.of(
            """
        init-1 [001] ..... 2.1: add_device_to_group: IOMMU: groupID=7 device=0000:00:02.0
        init-1 [001] ..... 2.2: add_device_to_group: IOMMU: groupID=1 device=0000:00:04.0
        init-1 [001] ..... 2.3: attach_device_to_domain: IOMMU: device=0000:00:02.0
        init-1 [001] ..... 2.4: attach_device_to_domain: IOMMU: device=0000:00:04.0
        init-1 [001] ..... 2.5: init_iova_domain: (init_iova_domain+0x0/0x90) iovad=0xff3deedd190ad808 granule=4096 start_pfn=0x1
        init-1 [001] ..... 2.6: fq_ring_free: (fq_ring_free+0x0/0xa0) cookie=0xff3deedd190ad800 fq=0xff80615e7fd02810
        """);

    assertThat(fields(r.line(5)))
        .isEqualTo(
            tuple(
                IOVA_DOMAIN_INIT,
                "init_iova_domain",
                1,
                A,
                CPU_CONTEXT,
                new IovaDomainInit(4096L, 1L, 0xff3deedd190ad808L, 1)));
    assertThat(fields(r.line(6)))
        .isEqualTo(
            tuple(
                FQ_REAP,
                "fq_ring_free",
                1,
                A,
                TRACE,
                new FlushQueueOp(null, null, FQ, COOKIE_A, FlushTrigger.UNKNOWN)));
  }

  @Test
  void captureStartedAfterBootLearnsEachDevicesDomainFromItsCookieAndInventsNone() {
    // No attach or init_iova_domain: the unmap's call names only the device, its fq_ring_free the
    // domain.
    Imported r =
        Imported.of(
            """
          <idle>-0 [000] d.h1. 20.000001: iommu_dma_unmap: (__iommu_dma_unmap+0x0/0x2d0) dev="0000:00:04.0" dma=0xffffb110 size=16
          <idle>-0 [000] d.h1. 20.000002: unmap: IOMMU: iova=0x00000000ffffb000 - 0x00000000ffffc000 size=4096 unmapped_size=4096
          <idle>-0 [000] d.h2. 20.000003: fq_ring_free: (fq_ring_free+0x0/0xa0) cookie=0xff3deedd190ad800 fq=0xff80615e7fd02810
         kworker-1 [000] d..1. 20.100000: iommu_dma_map: (__iommu_dma_map+0x0/0xf0) dev="0000:00:04.0" phys=0x10e2b9000 size=4096 prot=5 dma_mask=0xffffffffffffffff
         kworker-1 [000] d..1. 20.200000: alloc_iova_fast: (alloc_iova_fast+0x0/0x280) iovad=0xff3deedd190ad808 size=1 limit_pfn=0xfffff flush_rcache=0
         kworker-1 [000] d..1. 20.300000: alloc_iova_fast_ret: (iommu_dma_alloc_iova+0xb9/0xe0 <- alloc_iova_fast) pfn=0xffffe
         kworker-1 [000] d..1. 20.400000: map: IOMMU: iova=0x00000000ffffe000 - 0x00000000fffff000 paddr=0x000000010e2b9000 size=4096
         kworker-1 [000] d..1. 20.500000: iommu_dma_map_ret: (iommu_dma_map_page+0xba/0x260 <- __iommu_dma_map) dma=0xffffe000
         kworker-1 [000] d..1. 20.600000: iommu_dma_map: (__iommu_dma_map+0x0/0xf0) dev="0000:00:05.0" phys=0x10e2ba000 size=4096 prot=5 dma_mask=0xffffffffffffffff
        """);

    assertThat(r.rejected()).isEmpty();
    assertThat(r.events())
        .extracting(
            IommuEvent::getType,
            IommuEvent::getDomain,
            IommuEvent::getDevice,
            IommuEvent::getAttribution)
        .containsExactly(
            Tuple.tuple(DMA_UNMAP, -1L, A, TRACE),
            Tuple.tuple(UNMAP, 1L, A, INFERRED),
            Tuple.tuple(FQ_ENQUEUE, 1L, A, TRACE),
            Tuple.tuple(DMA_MAP, 1L, A, TRACE),
            Tuple.tuple(IOVA_ALLOC_REQUEST, 1L, A, TRACE),
            Tuple.tuple(IOVA_ALLOC, 1L, A, CPU_CONTEXT),
            Tuple.tuple(MAP, 1L, A, CPU_CONTEXT),
            Tuple.tuple(DMA_MAP_DONE, 1L, A, CPU_CONTEXT),
            // B's domain shows only with its first IOVA allocation
            Tuple.tuple(DMA_MAP, -1L, B, TRACE));
  }

  @Test
  void fqRingFreeEnqueuesAfterAnUnmapAndReapsOtherwiseAndAFullRingFlushesAtOnce() {
    Imported r =
        Imported.of(
            BOOT
                + """
          <idle>-0 [001] d.h1. 12.500000: iommu_dma_unmap: (__iommu_dma_unmap+0x0/0x2d0) dev="0000:00:04.0" dma=0xffffb110 size=16
          <idle>-0 [001] d.h1. 12.500001: unmap: IOMMU: iova=0x00000000ffffb000 - 0x00000000ffffc000 size=4096 unmapped_size=4096
          <idle>-0 [001] d.h2. 12.500002: fq_ring_free: (fq_ring_free+0x0/0xa0) cookie=0xff3deedd190ad800 fq=0xff80615e7fd02810
          <idle>-0 [001] d.h2. 12.500003: fq_flush_iotlb: (fq_flush_iotlb+0x0/0x40) cookie=0xff3deedd190ad800
          <idle>-0 [001] d.h2. 12.500004: intel_flush_iotlb_all: (intel_flush_iotlb_all+0x0/0x110) domain=0xff3deedd191cfb90
          <idle>-0 [001] d.h3. 12.500005: qi_submit: iotlb_inv dmar0: 0x500e2 0x0 0x0 0x0
          <idle>-0 [001] d.h2. 12.500006: fq_ring_free: (fq_ring_free+0x0/0xa0) cookie=0xff3deedd190ad800 fq=0xff80615e7fd02810
          <idle>-0 [001] d.h2. 12.500007: free_iova_fast: (free_iova_fast+0x0/0x1a0) iovad=0xff3deedd190ad808 pfn=0xffff8 size=1
        insmod-157 [001] ..s.. 12.510000: fq_flush_timeout: (fq_flush_timeout+0x0/0xa0) timer=0xff3deedd190ad8a0
        insmod-157 [001] ..s.. 12.510001: fq_flush_iotlb: (fq_flush_iotlb+0x0/0x40) cookie=0xff3deedd190ad800
        insmod-157 [001] ..s.. 12.510002: intel_flush_iotlb_all: (intel_flush_iotlb_all+0x0/0x110) domain=0xff3deedd191cfb90
        insmod-157 [001] d.s1. 12.510003: qi_submit: iotlb_inv dmar0: 0x500e2 0x0 0x0 0x0
        insmod-157 [001] ..s.. 12.510004: fq_ring_free: (fq_ring_free+0x0/0xa0) cookie=0xff3deedd190ad800 fq=0xff80615e7fd02810
        insmod-157 [001] ..s.. 12.510005: fq_ring_free: (fq_ring_free+0x0/0xa0) cookie=0xff3deedd190ad800 fq=0xff80615e7fc02810
        """);

    assertThat(r.rejected()).isEmpty();
    assertThat(r.events().subList(BOOT_LINES, r.events().size()))
        .extracting(IommuEvent::getType, e -> trigger(e.getPayload()))
        .containsExactly(
            Tuple.tuple(DMA_UNMAP, null), Tuple.tuple(UNMAP, null),
            Tuple.tuple(FQ_ENQUEUE, null), Tuple.tuple(FQ_FLUSH, FQ_FULL),
            Tuple.tuple(IOTLB_FLUSH_REQUEST, FQ_FULL), Tuple.tuple(IOTLB_FLUSH, FQ_FULL),
            Tuple.tuple(FQ_REAP, null), Tuple.tuple(IOVA_FREE, null),
            Tuple.tuple(FQ_TIMEOUT, null), Tuple.tuple(FQ_FLUSH, FQ_TIMER),
            Tuple.tuple(IOTLB_FLUSH_REQUEST, FQ_TIMER), Tuple.tuple(IOTLB_FLUSH, FQ_TIMER),
            Tuple.tuple(FQ_REAP, null), Tuple.tuple(FQ_REAP, null));
    // the timer was never seen before, but the chain it starts teaches it
    assertThat(fields(r.line(BOOT_LINES + 9)))
        .isEqualTo(
            tuple(
                FQ_TIMEOUT,
                "fq_flush_timeout",
                -1,
                null,
                MISSING,
                new FlushQueueOp(null, null, null, TIMER_A, FlushTrigger.UNKNOWN)));
    assertThat(r.line(BOOT_LINES + 14).getPayload())
        .isEqualTo(
            new FlushQueueOp(null, null, 0xff80615e7fc02810L, COOKIE_A, FlushTrigger.UNKNOWN));
  }

  // ---- malformed and unknown lines ----

  @Test
  void malformedLinesAreRejectedWithTheirLineAndReasonAndTheImportGoesOn() {
    List<String> bad =
        List.of(
            "x-1 [000] ..... 1.0: map: IOMMU: iova=0x00000000ffffb000 - 0x00000000ffffc000 size=4096",
            "x-1 [000] ..... 1.0: unmap: IOMMU: iova=0x00000000ffffb000 - 0x00000000ffffc000 size=4k unmapped_size=4096",
            "x-1 [000] ..... 1.0: unmap: IOMMU: iova=0x10000000000000000 size=4096 unmapped_size=4096",
            "x-1 [000] ..... 1.0: map: IOMMU: iova=0x00000000ffffb000 paddr=0x0000000000001000 size=99999999999999999999999",
            "x-1 [000] ..... 1.0: io_page_fault: IOMMU:nvme",
            "x-1 [000] ..... 1.0: qi_submit: iotlb_inv dmar0: 0x500e2 0x0 0x0",
            "x-1 [000] ..... 1.0: qi_submit: iotlb_inv dmar0: 0x500e2 0xZZ 0x0 0x0",
            "x-1 [000] ..... 1.0: qi_submit: iotlb_inv dmar0: 0x500e6 0x0 0x0 0x0",
            "x-1 [000] ..... 1.0: alloc_iova_fast: (alloc_iova_fast+0x0/0x280) iovad=0xff3deedd190ad808 size=1",
            "x-1 [000] ..... 1.0: iommu_dma_map: (__iommu_dma_map+0x0/0xf0) dev=(fault) phys=0x1 size=16 prot=5 dma_mask=0xff",
            "x-1 [000] ..... 1.0: iommu_dma_unmap: (__iommu_dma_unmap+0x0/0x2d0) dev=\"0000:00:04.0 dma=0xffffb110 size=16",
            "x-1 [000] ..... 1.0: free_iova_fast: (free_iova_fast+0x0/0x1a0) iovad=0xff3deedd190ad808 pfn=(fault) size=1",
            "x-1 [000] ..... 1.0: dma_map_page: 0000:00:04.0 dir=TO_DEVICE dma_addr=xyz size=16 phys_addr=1 attrs=",
            "x-1 [000] ..... 1.0: dma_map_sg: 0000:00:05.0 dir=FROM_DEVICE dma_addrs={0xfff30000,0xfff50000} sizes={0x10000} phys_addrs={0x1} attrs=",
            "x-1 [000] ..... 1.0: dma_sync_sg_for_cpu: 0000:00:05.0 dir=FROM_DEVICE dma_addrs={0xfff30000 sizes={0x10000}",
            "x-1 [000] ..... 1.0: attach_device_to_domain: IOMMU:",
            "x-1 [000] ..... 1.0: add_device_to_group: IOMMU: groupID=x device=0000:00:04.0",
            "x-1 [000] ..... 1.0: cache_tag_assign: garbage",
            "x-1 [000] ..... 1.0: init_iova_domain: (init_iova_domain+0x0/0x90) iovad=0xff3deedd190ad808 granule=4096",
            "this is not a trace line",
            "x-1 [000] ..... 12a.5: tracing_mark_write: x",
            "x-1 [000] .....",
            "x-1 [000] ..... 1.000039: no event name",
            "x-1 [99999999999] ..... 1.0: tracing_mark_write: x",
            "x-1 [500000000] ..... 1.0: map: IOMMU: iova=0x0000000000001000 paddr=0x0000000000001000 size=4096",
            "x-1 [000] ..... 18446744073709551616.000000: tracing_mark_write: x",
            "x-1 [000] ..... .: tracing_mark_write: x",
            "x-1 [\u0663] ..... 1.0: tracing_mark_write: Arabic-Indic digit three as CPU");
    List<String> reasons =
        List.of(
            "missing field paddr",
            "bad number for size: 4k",
            "hex value of iova= is longer than 64 bits",
            "bad number for size: 99999999999999999999999",
            "io_page_fault without driver and device",
            "qi_submit body is not 'KIND IOMMU: QW0 QW1 QW2 QW3'",
            "bad descriptor word 0xZZ",
            "line says iotlb_inv but qw0 0x500e6 has type 6 (p_iotlb_inv)",
            "missing field limit_pfn",
            "field dev could not be read (fault)",
            "unterminated string in dev=",
            "field pfn could not be read (fault)",
            "bad number for dma_addr: xyz",
            "2 dma_addrs but 1 sizes",
            "bad array for dma_addrs",
            "missing field device",
            "bad number for groupID: x",
            "cache_tag_assign body is not 'IOMMU/DEVICE type T did D pasid P ref R'",
            "missing field start_pfn",
            "no [CPU] field after COMM-PID",
            "bad TIMESTAMP 12a.5",
            "line ends after the CPU field",
            "no EVENT: field",
            "bad CPU 99999999999",
            "bad CPU 500000000",
            "bad TIMESTAMP 18446744073709551616.000000",
            "bad TIMESTAMP .",
            "no [CPU] field after COMM-PID");
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < bad.size(); i++) {
      text.append(bad.get(i)).append('\n');
      text.append("x-1 [000] ..... 2.0: tracing_mark_write: good ").append(i).append('\n');
    }

    Imported r = Imported.of(text.toString());

    assertThat(r.rejected()).hasSameSizeAs(bad);
    for (int i = 0; i < bad.size(); i++) {
      assertThat(r.rejected().get(i).reason())
          .as("reason for %s", bad.get(i))
          .contains(reasons.get(i));
    }
    assertThat(r.rejected())
        .extracting(ImportSink.RejectedLine::lineNumber)
        .containsExactlyElementsOf(
            IntStream.range(0, bad.size()).mapToObj(i -> 2L * i + 1).toList());
    assertThat(r.rejected())
        .extracting(ImportSink.RejectedLine::text)
        .containsExactlyElementsOf(bad);
    assertThat(r.rejected()).extracting(ImportSink.RejectedLine::file).containsOnly("file1");
    assertThat(r.events())
        .extracting(e -> ((TraceMarker) e.getPayload()).getText(), IommuEvent::getSeq)
        .containsExactlyElementsOf(
            IntStream.range(0, bad.size())
                .mapToObj(i -> Tuple.tuple("good " + i, 2L * i + 2))
                .toList());
    assertThat(r.stats().malformedLines()).isEqualTo(bad.size());
  }

  @Test
  void rejectedInitIovaDomainCreatesNoDomain() {
    Imported r =
        Imported.of(
            """
        init-1 [001] ..... 2.1: attach_device_to_domain: IOMMU: device=0000:00:04.0
        init-1 [001] ..... 2.2: init_iova_domain: (init_iova_domain+0x0/0x90) iovad=0xff3deedd190ad808 granule=4096
        init-1 [001] ..... 2.3: init_iova_domain: (init_iova_domain+0x0/0x90) iovad=0xff3deedd190ade08 granule=4096 start_pfn=0x1
        """);

    assertThat(r.rejected()).extracting(ImportSink.RejectedLine::lineNumber).containsExactly(2L);
    assertThat(fields(r.line(3)))
        .isEqualTo(
            tuple(
                IOVA_DOMAIN_INIT,
                "init_iova_domain",
                1,
                A,
                CPU_CONTEXT,
                new IovaDomainInit(4096L, 1L, 0xff3deedd190ade08L, null)));
  }

  @Test
  void unknownEventKindsAreCountedPerKind() {
    Imported r =
        Imported.of(
            """
          <idle>-0 [000] d..2. 1.0: sched_switch: prev_comm=swapper/0 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=kworker/0:1 next_pid=9 next_prio=120
          <idle>-0 [000] d..2. 1.1: sched_switch: prev_comm=kworker/0:1 prev_pid=9 prev_prio=120 prev_state=I ==> next_comm=swapper/0 next_pid=0 next_prio=120
          <idle>-0 [000] d.h1. 1.2: irq_handler_entry: irq=24 name=virtio0-requests
          <idle>-0 [000] ..... 1.3: dma_fence_init: driver=drm_sched timeline=gfx context=1 seqno=2
              sh-5 [000] ..... 1.4: kp_open: (do_sys_openat2+0x0/0x100) dfd=0xffffff9c
              sh-5 [000] ..... 1.5: kp_open_ret: (__x64_sys_openat+0x5e/0x90 <- do_sys_openat2) ret=0x3
              sh-5 [000] ..... 1.6: tracing_mark_write: known
        """);

    assertThat(r.stats().unknownKinds())
        .containsExactlyInAnyOrderEntriesOf(
            Map.of(
                "sched_switch",
                2L,
                "irq_handler_entry",
                1L,
                "dma_fence_init",
                1L,
                "kprobe:do_sys_openat2",
                1L,
                "kprobe:do_sys_openat2 (return)",
                1L));
    assertThat(r.rejected()).isEmpty();
    assertThat(r.events()).extracting(IommuEvent::getSeq).containsExactly(7L);
    assertThat(r.stats().lines()).isEqualTo(7);
  }

  @Test
  void filesOfOneHostContinueTheSequenceAndRejectLinesByTheirOwnNumbers() {
    Imported r =
        Imported.of(
            """
        # first file
        x-1 [000] ..... 1.0: tracing_mark_write: one
        """,
            """
        x-1 [000] ..... 2.0: tracing_mark_write: two
        x-1 [000] ..... 2.1: map: broken
        x-1 [000] ..... 2.2: tracing_mark_write: three
        """);

    assertThat(r.events()).extracting(IommuEvent::getSeq).containsExactly(2L, 3L, 5L);
    assertThat(r.rejected())
        .extracting(ImportSink.RejectedLine::file, ImportSink.RejectedLine::lineNumber)
        .containsExactly(Tuple.tuple("file2", 2L));
    assertThat(r.stats().lines()).isEqualTo(5);
  }

  // ---- helpers ----

  private static Tuple tuple(
      EventType type,
      String source,
      long domain,
      String device,
      Attribution attribution,
      Object payload) {
    return new Tuple(type, source, domain, device, attribution, payload);
  }

  private static IotlbInvalidation request(
      FlushScope scope, long iova, long size, boolean leafOnly, FlushTrigger trigger) {
    return new IotlbInvalidation(
        scope, iova, size, -1, leafOnly, null, null, null, null, trigger, List.of());
  }

  private static DmaApiCall dmaAddr(long dmaAddr) {
    return new DmaApiCall(dmaAddr, null, null, null, null, null, null, null, null);
  }

  private static FlushTrigger trigger(Object payload) {
    if (payload instanceof IotlbInvalidation inv) return inv.getTrigger();
    if (payload instanceof FlushQueueOp op && op.getTrigger() != FlushTrigger.UNKNOWN) {
      return op.getTrigger();
    }
    return null;
  }

  private static Long hex(String value) {
    return value == null ? null : Long.parseUnsignedLong(value.substring(2), 16);
  }
}
