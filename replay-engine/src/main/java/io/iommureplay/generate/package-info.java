/**
 * The workload generator: synthetic IOMMU traces with labelled injected bugs, the ground truth of
 * SPEC "Detectors" (issue 4, "Workload generator").
 *
 * <h2>Use</h2>
 *
 * <pre>{@code
 * GeneratorOptions options = GeneratorOptions.defaults()
 *     .withWorkload(Workload.MIX).withLazy(true).withCpus(8).withHosts(2)
 *     .withEvents(1_000_000).withSeed(42)
 *     .withInjected(FindingType.PHYS_REUSE_IN_WINDOW, 50);
 * WorkloadGenerator g = new WorkloadGenerator(options, label -> ...); // or the 1-arg form
 * while (g.hasNext()) sink.accept(g.next());                       // IommuEvents, hosts merged
 * Labels.write(Path.of("labels.jsonl"), g.labels());               // see Labels for the format
 * }</pre>
 *
 * Deterministic (same options, same bytes), bounded memory (about 20 MiB whatever the length),
 * about 2–3 million events a second on one core. Replay a generated trace with {@code
 * ModelConfig.defaults().withFlushQueue(FlushQueueParams.PER_CPU, options.possibleCpus())}: the
 * generator's allocators and flush queues are sized for the possible CPUs (default 64, the model's
 * default too); a MARKER event at the start of each host names the options.
 *
 * <h2>What a trace holds</h2>
 *
 * Per host: devices with one domain each, set up as the kernel traces it (DEVICE_ADD, DOMAIN_ALLOC
 * with the domain type and VTD_SECOND_STAGE, the root table's PGTABLE_ALLOC, ATTACH, and for DMA
 * domains IOVA_DOMAIN_INIT (granule 4096, start pfn 1), IOVA_RESERVE of the MSI window
 * 0xfee00000–0xfeefffff, RESERVED_REGION MSI). Then bursty traffic (busy periods at about 3× the
 * mean rate, queues loaded unevenly, so per-CPU rings fill and the flush queue flushes on a full
 * ring as well as on its timer):
 *
 * <ul>
 *   <li>{@link Workload#NIC}: rx rings of 2 KiB (two buffers per page) or 4 KiB buffers refilled as
 *       packets come in, tx queues completed now and then on another CPU; freed pages are reused
 *       first (page recycling).
 *   <li>{@link Workload#NVME}: scatter-gather requests of 64–512 KiB (rarely 1–2 MiB, whose unmap
 *       frees a table page), one IOVA allocation, one MAP per physically contiguous piece, one
 *       UNMAP.
 *   <li>{@link Workload#GPU}: a persistent 1 GiB buffer and 2–16 MiB buffers, physically aligned (1
 *       GiB and 2 MiB pages); SVA processes binding, working by PASID and exiting.
 *   <li>{@link Workload#VFIO}: an UNMANAGED domain with guest RAM mapped once by iommu_map() at
 *       IOVA = guest physical address (no allocator), DMA anywhere in it, 2 MiB blocks plugged and
 *       unplugged (unmap + page-selective flush).
 *   <li>{@link Workload#MIX}: all of them.
 * </ul>
 *
 * Conventions: every MAP names its domain and device (attribution TRACE); UNMAP is attributed
 * CPU_CONTEXT, as the importer does for unmaps whose dma-iommu kprobe was seen (the model infers a
 * missed strict IOVA free for any other attribution). MAP and UNMAP carry {@code durationNs}: the
 * call ran over {@code [tsNs − durationNs, tsNs]} (the tracepoints fire as the call returns).
 * DEVICE_ACCESS has CPU −1. PGTABLE_ALLOC events come inside the map call that installs the table;
 * PGTABLE_FREE after the flush that retires it (AFTER_FLUSH). A debugfs dump (PGTABLE_WALK over the
 * whole space, 0.5–3 ms) of some domain runs about every 50 ms. Strict unmaps: UNMAP, IOTLB_FLUSH
 * (PAGE, SYNC, exactly as {@code PsiAlignment.strictUnmap} words it), freed tables, IOVA_FREE. Lazy
 * unmaps: UNMAP then at once FQ_ENQUEUE, then what the flush queue does (FQ_FLUSH and a DOMAIN
 * IOTLB_FLUSH with trigger FQ_FULL or FQ_TIMER, freed tables, IOVA_FREE); the timer flush runs on
 * the CPU that armed it. Each host ends after its share of events once every injected bug is
 * complete and at least 30 ms (150 ms after a missing flush) have passed, with the armed timers
 * fired: no lazy window is left open.
 *
 * <h2>Injected bugs</h2>
 *
 * Each instance is placed between 5% and 85% of the host's expected time, on a domain of the kind
 * it needs, one at a time per domain, instances of a type on one domain at least 30 ms apart;
 * devices are added where the workload has no suitable domain (an external strict NIC, an
 * accelerator with an UNMANAGED domain, quiet storage devices, devices with 28- and 32-bit DMA
 * masks, an SVA accelerator). Each one yields a {@link Label} naming its events. The classes {@code
 * RaceInjections}, {@code WindowInjections} and {@code AllocatorInjections} document each type; in
 * short:
 *
 * <ul>
 *   <li>WRITER_RACE (strict domain): CPU a unmaps a buffer while CPU b maps the same IOVA to
 *       another page with no allocation handing it over; "overlapping": their calls overlap in
 *       time, "unordered": b maps 20–200 µs later.
 *   <li>MAP_OVER_LIVE_MAPPING: the CPU that mapped a live buffer maps its IOVA again (VT-d keeps
 *       the old PTE).
 *   <li>UNMAP_OF_UNMAPPED: a double dma_unmap (VT-d reports the whole size unmapped).
 *   <li>LARGE_PAGE_SPLIT (UNMANAGED): iommu_unmap() of 4 KiB–1 MiB at the start of a 2 MiB page;
 *       the whole page goes.
 *   <li>TABLE_INSTALL_RACE: two CPUs map the halves of a fresh 2 MiB span at once and both allocate
 *       its level-1 table; "resolved": the loser frees its page (PGTABLE_FREE IMMEDIATE), "leaked":
 *       never.
 *   <li>WALK_FREE_RACE (UNMANAGED): a superpage map frees an emptied table at once while a debugfs
 *       walk covers it (also a TABLE_FREE_BEFORE_FLUSH: label field {@code also}).
 *   <li>DEVICE_ACCESS_AFTER_UNMAP: the device touches a buffer inside its window.
 *   <li>PHYS_REUSE_IN_WINDOW: the page of a just-unmapped buffer is mapped again inside its window,
 *       by another device ("cross-device") or by the same domain ("same-domain").
 *   <li>IOVA_REUSE_BEFORE_FLUSH: the unmapping CPU maps the IOVA again before its flush, bypassing
 *       the allocator.
 *   <li>MISSING_FLUSH (strict): an unmap never flushed.
 *   <li>PARTIAL_FLUSH (strict): the sync flushes half the range; an explicit flush covers the rest
 *       1–3 ms later.
 *   <li>DETACH_WITH_OPEN_WINDOWS: DETACH (then ATTACH again) while unmaps are unflushed.
 *   <li>TABLE_FREE_BEFORE_FLUSH: "ih1" a strict unmap that freed a table flushed with IH=1;
 *       "immediate-unmap" the freed table given back before the flush; "superpage-map" VT-d freeing
 *       a replaced table before its flush.
 *   <li>LONG_WINDOW: lazy — a flush-queue timer firing 120–250 ms late; strict — the sync delayed
 *       as long.
 *   <li>RESERVED_REGION_MAPPING: a map into the MSI window with iova ≠ paddr ("msi-window"), or
 *       into a RESERVED region the device reports just before ("reserved-region").
 *   <li>PASID_USE_AFTER_EXIT: device access by PASID after MM_EXIT ("after-mm-exit") or after
 *       SVA_UNBIND ("after-unbind").
 *   <li>ALLOC_FAILURE_FRAGMENTED: a 28-bit device fragments its 256 MiB window; an 8 MiB request
 *       fails with about 132 MiB free.
 *   <li>IOVA32_EXHAUSTED: a 32-bit device fills the space below 4 GiB; a 256 KiB request fails with
 *       63 pages free.
 *   <li>HIGH_FRAGMENTATION: a 32-bit device holds every other 64 MiB block below 4 GiB for 200–300
 *       ms (fragmentation index about 0.97 at the 4 GiB limit).
 * </ul>
 */
package io.iommureplay.generate;
