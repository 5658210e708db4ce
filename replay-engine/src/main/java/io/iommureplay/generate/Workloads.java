package io.iommureplay.generate;

import io.iommureplay.schema.Attribution;
import io.iommureplay.schema.DomainLifecycle;
import io.iommureplay.schema.DomainType;
import io.iommureplay.schema.EventType;
import java.util.ArrayList;
import java.util.List;

/** Builds a host's devices, domains and actors, and the extra devices injections run on. */
final class Workloads {
  static final int BUS_GPU = 0x01;
  static final int BUS_NVME = 0x02;
  static final int BUS_NIC = 0x03;
  static final int BUS_VFIO = 0x04;
  static final int BUS_QUIET = 0x05;
  static final int BUS_EXTERNAL = 0x06;
  static final int BUS_DMA32 = 0x07;
  static final int BUS_DMA32_FRAG = 0x08;
  static final int BUS_DMA28 = 0x09;
  static final int BUS_ACCEL = 0x0b;
  static final int BUS_AUX_NIC = 0x0c;
  static final int BUS_DSA = 0x6a;

  private final HostGenerator h;

  /** DMA domains of the workload whose traffic is 4 KiB pages (NIC, NVMe). */
  final List<GenDomain> dma4k = new ArrayList<>();

  /** UNMANAGED domains of the workload (VFIO). */
  final List<GenDomain> unmanaged = new ArrayList<>();

  Actors.Sva sva;

  Workloads(HostGenerator h) {
    this.h = h;
  }

  private DomainType dmaType() {
    return h.opt.lazy() ? DomainType.DMA_FQ : DomainType.DMA;
  }

  void build(Workload w) {
    boolean mix = w == Workload.MIX;
    if (w == Workload.NIC || mix) nic(mix ? 0.40 : 1.0);
    if (w == Workload.NVME || mix) nvme(mix ? 0.30 : 1.0);
    if (w == Workload.GPU || mix) gpu(mix ? 0.15 : 0.92);
    if (w == Workload.VFIO || mix) vfio(mix ? 0.12 : 1.0);
  }

  private void nic(double weight) {
    GenDomain d = h.newDomain(h.newDevice(BUS_NIC), dmaType(), 64);
    dma4k.add(d);
    int rxLog2 = h.rnd.nextInt(4) == 0 ? 12 : 11;
    double[] share = queueShares();
    for (int cpu = 0; cpu < h.cpus; cpu++) {
      h.addActor(new Actors.Nic(h, d, weight * share[cpu], cpu, 128, 64, rxLog2));
    }
  }

  private void nvme(double weight) {
    GenDomain d = h.newDomain(h.newDevice(BUS_NVME), dmaType(), 64);
    dma4k.add(d);
    double[] share = queueShares();
    for (int cpu = 0; cpu < h.cpus; cpu++) {
      h.addActor(new Actors.Nvme(h, d, weight * share[cpu], cpu, 24));
    }
  }

  /**
   * How a device's queues share its traffic: unevenly, as flows hash to receive queues and
   * processes sit on CPUs (weights 1, 1/2, 1/3, ... in a random order of CPUs).
   */
  private double[] queueShares() {
    double[] share = new double[h.cpus];
    double sum = 0;
    for (int i = 0; i < share.length; i++) sum += share[i] = 1.0 / (i + 1);
    for (int i = share.length - 1; i > 0; i--) {
      int j = h.rnd.nextInt(i + 1);
      double t = share[i];
      share[i] = share[j];
      share[j] = t;
    }
    for (int i = 0; i < share.length; i++) share[i] /= sum;
    return share;
  }

  private void gpu(double weight) {
    String device = h.newDevice(BUS_GPU);
    GenDomain d = h.newDomain(device, dmaType(), 64);
    h.addActor(new Actors.Gpu(h, d, weight));
    sva = newSva(device, weight * 0.08);
  }

  private void vfio(double weight) {
    GenDomain d = h.newDomain(h.newDevice(BUS_VFIO), DomainType.UNMANAGED, 64);
    unmanaged.add(d);
    h.addActor(new Actors.Vfio(h, d, weight));
  }

  private Actors.Sva newSva(String device, double weight) {
    long id = h.newSvaDomainId();
    h.tick(500, 2_000);
    h.emit(
        EventType.DOMAIN_ALLOC,
        0,
        id,
        device,
        Attribution.TRACE,
        new DomainLifecycle(
            DomainType.SVA, io.iommureplay.schema.PageTableFormat.UNKNOWN, 0, null));
    Actors.Sva s = new Actors.Sva(h, device, id, weight);
    h.addActor(s);
    return s;
  }

  // ---- extra devices for injections ----

  /** A lightly used NIC-like device with a domain in the trace's mode. */
  GenDomain auxDma4k() {
    GenDomain d = h.newDomain(h.newDevice(BUS_AUX_NIC), dmaType(), 64);
    lightNic(d);
    return d;
  }

  /**
   * An external (untrusted, e.g. Thunderbolt) NIC: Linux keeps its domain strict even under
   * iommu.strict=0. Light traffic.
   */
  GenDomain external() {
    GenDomain d = h.newDomain(h.newDevice(BUS_EXTERNAL), DomainType.DMA, 64);
    lightNic(d);
    return d;
  }

  private void lightNic(GenDomain d) {
    int cpu = h.randomCpu();
    h.addActor(new Actors.Nic(h, d, 0.04, cpu, 16, 8, 11));
  }

  /** An accelerator whose driver manages the IOVA space of its own UNMANAGED domain. */
  GenDomain accelerator() {
    GenDomain d = h.newDomain(h.newDevice(BUS_ACCEL), DomainType.UNMANAGED, 64);
    h.addActor(new Actors.Unmanaged(h, d, 0.04));
    return d;
  }

  /** A storage controller with little traffic, in the trace's mode. */
  GenDomain quiet() {
    GenDomain d = h.newDomain(h.newDevice(BUS_QUIET), dmaType(), 64);
    h.addActor(new Actors.Nvme(h, d, 0.03, h.randomCpu(), 4));
    return d;
  }

  /** A device with a narrow DMA mask whose domain only injections use. */
  GenDomain narrow(int bus, int maskBits) {
    return h.newDomain(h.newDevice(bus), dmaType(), maskBits);
  }

  /** The SVA-capable device: the GPU's, or a data-streaming accelerator of its own. */
  Actors.Sva svaLane() {
    if (sva == null) sva = newSva(h.newDevice(BUS_DSA), 0.03);
    return sva;
  }
}
