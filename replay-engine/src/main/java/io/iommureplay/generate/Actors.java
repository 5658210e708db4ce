package io.iommureplay.generate;

import static io.iommureplay.generate.GenDomain.PROT_CACHE;
import static io.iommureplay.generate.GenDomain.PROT_READ;
import static io.iommureplay.generate.GenDomain.PROT_WRITE;

import io.iommureplay.schema.Attribution;
import io.iommureplay.schema.DeviceAccess;
import io.iommureplay.schema.EventType;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.PasidOp;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/** The devices' normal traffic. */
final class Actors {
  private Actors() {}

  /** A device DMA (DEVICE_ACCESS, no CPU) of {@code [iova, iova + len)}. */
  static IommuEvent access(HostGenerator h, GenDomain d, long iova, long len, boolean write) {
    h.tick(100, 2_000);
    return h.emit(
        EventType.DEVICE_ACCESS,
        -1,
        d,
        d.device,
        Attribution.TRACE,
        new DeviceAccess(iova, len, write, null));
  }

  /**
   * One queue pair of a multi-queue NIC, served by one CPU: an rx ring of posted buffers (2 KiB
   * halves of pages or whole pages) that the device fills and the driver unmaps and refills, and a
   * tx queue of in-flight buffers completed in order (now and then on another CPU). Freed pages go
   * straight back to the domain's pool and come out first for the next buffer.
   */
  static final class Nic extends Actor {
    final int cpu;
    final int rxLog2;
    final int txLog2;
    final int ring;
    final int txMax;
    final ArrayDeque<Buffer> posted = new ArrayDeque<>();
    final ArrayDeque<Buffer> tx = new ArrayDeque<>();

    Nic(HostGenerator h, GenDomain d, double weight, int cpu, int ring, int txMax, int rxLog2) {
      super(h, d, weight);
      this.cpu = cpu;
      this.ring = ring;
      this.txMax = txMax;
      this.rxLog2 = rxLog2;
      this.txLog2 = h.rnd.nextBoolean() ? 11 : 12;
    }

    @Override
    void start() {
      for (int i = 0; i < ring; i++) posted.add(refill());
    }

    private Buffer refill() {
      return domain.newBuffer(cpu, PROT_WRITE | PROT_CACHE, rxLog2);
    }

    @Override
    void step() {
      double r = h.rnd.nextDouble();
      if (r < 0.6 || (tx.isEmpty() && r < 0.8)) {
        Buffer b = posted.poll();
        long len = 60 + h.rnd.nextLong(b.usableBytes() - 60);
        access(h, domain, b.dmaAddress(), len, true);
        domain.release(b, cpu);
        posted.add(refill());
      } else if (r < 0.8 && tx.size() < txMax) {
        tx.add(domain.newBuffer(cpu, PROT_READ | PROT_CACHE, txLog2));
      } else if (!tx.isEmpty()) {
        Buffer b = tx.poll();
        access(h, domain, b.dmaAddress(), 60 + h.rnd.nextLong(b.usableBytes() - 60), false);
        domain.release(b, h.rnd.nextInt(10) == 0 ? h.otherCpu(cpu) : cpu);
      }
    }
  }

  /**
   * One NVMe submission queue: scatter-gather requests of 64–512 KiB (sometimes 1–2 MiB), each one
   * IOVA allocation mapped piece by piece (pieces of 4–128 KiB, each physically contiguous), the
   * data moved when the request runs, one unmap at completion; completions out of order.
   */
  static final class Nvme extends Actor {
    final int cpu;
    final int depth;
    final List<Buffer> inflight = new ArrayList<>();
    final BitSet reads = new BitSet();

    Nvme(HostGenerator h, GenDomain d, double weight, int cpu, int depth) {
      super(h, d, weight);
      this.cpu = cpu;
      this.depth = depth;
    }

    @Override
    void step() {
      if (inflight.size() < depth && (inflight.isEmpty() || h.rnd.nextInt(100) < 52)) {
        submit();
      } else {
        int i = h.rnd.nextInt(inflight.size());
        Buffer b = inflight.get(i);
        boolean read = reads.get(i);
        inflight.set(i, inflight.get(inflight.size() - 1));
        reads.set(i, reads.get(inflight.size() - 1));
        inflight.remove(inflight.size() - 1);
        access(h, domain, b.iova, b.bytes, read);
        domain.release(b, h.rnd.nextInt(8) == 0 ? h.otherCpu(cpu) : cpu);
      }
    }

    private void submit() {
      int r = h.rnd.nextInt(100);
      int pages = r < 25 ? 16 : r < 55 ? 32 : r < 80 ? 64 : r < 97 ? 128 : r < 99 ? 256 : 512;
      int[] pieces = new int[pages];
      int n = 0;
      for (int left = pages; left > 0; ) {
        int piece = Integer.highestOneBit(Math.min(left, 1 << h.rnd.nextInt(6)));
        pieces[n++] = 12 + Integer.numberOfTrailingZeros(piece);
        left -= piece;
      }
      boolean read = h.rnd.nextInt(3) != 0;
      Buffer b =
          domain.newBuffer(
              cpu,
              (read ? PROT_WRITE : PROT_READ) | PROT_CACHE,
              java.util.Arrays.copyOf(pieces, n));
      reads.set(inflight.size(), read);
      inflight.add(b);
    }
  }

  /**
   * A GPU: one 1 GiB buffer mapped at start and kept, and a churn of 2–16 MiB buffers; every buffer
   * physically aligned to its size, so the IOMMU maps 2 MiB and 1 GiB pages. Runs on any CPU.
   */
  static final class Gpu extends Actor {
    final List<Buffer> live = new ArrayList<>();
    Buffer persistent;

    Gpu(HostGenerator h, GenDomain d, double weight) {
      super(h, d, weight);
    }

    @Override
    void start() {
      persistent = domain.newBuffer(0, PROT_READ | PROT_WRITE, 30);
    }

    @Override
    void step() {
      int cpu = h.randomCpu();
      int r = h.rnd.nextInt(100);
      if (live.size() < 16 && (live.isEmpty() || r < 4)) {
        Buffer b = domain.newBuffer(cpu, PROT_READ | PROT_WRITE, 21 + h.rnd.nextInt(4));
        live.add(b);
        access(h, domain, b.iova, Math.min(b.bytes, 1 << 20), true);
      } else if (r < 8) {
        Buffer b = live.remove(h.rnd.nextInt(live.size()));
        access(h, domain, b.iova + (b.bytes >>> 1), 4096, false);
        domain.release(b, cpu);
      } else {
        Buffer b = r < 40 || live.isEmpty() ? persistent : live.get(h.rnd.nextInt(live.size()));
        long off = h.rnd.nextLong(b.bytes >>> 12) << 12;
        access(h, domain, b.iova + off, 256 + h.rnd.nextLong(3840), h.rnd.nextBoolean());
      }
    }
  }

  /**
   * A device assigned to a VM: guest RAM mapped once at IOVA = guest physical address (1 GiB pages
   * where the backing allows, a 512 MiB region of 2 MiB pages), DMA anywhere in it, and 2 MiB
   * memory blocks plugged and unplugged (map; unmap + page-selective flush) by the VMM thread.
   */
  static final class Vfio extends Actor {
    static final long HOTPLUG_BASE = 16L << 30;
    static final int HOTPLUG_SLOTS = 512;

    final long[] ramStart = {0, 1L << 30, 2L << 30, 4L << 30, 5L << 30, 8L << 30};
    final int[] ramLog2 = {30, 30, 30, 30, 30, 29};
    final Buffer[] plugged = new Buffer[HOTPLUG_SLOTS];
    int pluggedCount;

    Vfio(HostGenerator h, GenDomain d, double weight) {
      super(h, d, weight);
    }

    @Override
    void start() {
      for (int i = 0; i < ramStart.length; i++) {
        long piece = domain.pool.take(ramLog2[i]);
        domain.map(ramStart[i], piece, 1L << ramLog2[i], PROT_READ | PROT_WRITE | PROT_CACHE, 0);
      }
      for (int i = 0; i < 32; i++) plug(h.rnd.nextInt(HOTPLUG_SLOTS), 0);
    }

    private void plug(int slot, int cpu) {
      if (plugged[slot] != null) return;
      long piece = domain.pool.take(21);
      Buffer b = Buffer.single(HOTPLUG_BASE + ((long) slot << 21), -1, 0, piece, 21);
      domain.mapPieces(b, cpu, PROT_READ | PROT_WRITE | PROT_CACHE);
      plugged[slot] = b;
      pluggedCount++;
    }

    @Override
    void step() {
      int r = h.rnd.nextInt(100);
      int cpu = h.randomCpu();
      if (r < 88) {
        int i = h.rnd.nextInt(ramStart.length);
        long off = h.rnd.nextLong((1L << ramLog2[i]) >>> 6) << 6;
        long len = Math.min(64 + h.rnd.nextLong(4032), (1L << ramLog2[i]) - off);
        access(h, domain, ramStart[i] + off, len, h.rnd.nextBoolean());
      } else {
        int slot = h.rnd.nextInt(HOTPLUG_SLOTS);
        if (plugged[slot] != null && h.rnd.nextBoolean()) {
          domain.release(plugged[slot], cpu);
          plugged[slot] = null;
          pluggedCount--;
        } else {
          plug(slot, cpu);
        }
      }
    }
  }

  /**
   * A driver that manages the IOVA space of its own UNMANAGED domain (an accelerator): 64 KiB
   * buffers at IOVAs it picks from a slot list, mapped with iommu_map() and unmapped with
   * iommu_unmap() (flushed before it returns).
   */
  static final class Unmanaged extends Actor {
    static final long BASE = 1L << 32;
    final List<Buffer> live = new ArrayList<>();
    final ArrayDeque<Long> freeSlots = new ArrayDeque<>();
    long nextSlot = BASE;

    Unmanaged(HostGenerator h, GenDomain d, double weight) {
      super(h, d, weight);
    }

    @Override
    void step() {
      int cpu = h.randomCpu();
      int r = h.rnd.nextInt(100);
      if (live.size() < 32 && (live.isEmpty() || r < 40)) {
        Long slot = freeSlots.pollLast();
        long iova = slot != null ? slot : (nextSlot += 1 << 16) - (1 << 16);
        Buffer b = Buffer.single(iova, -1, 0, domain.pool.take(16), 16);
        domain.mapPieces(b, cpu, PROT_READ | PROT_WRITE);
        live.add(b);
      } else if (r < 75) {
        Buffer b = live.remove(h.rnd.nextInt(live.size()));
        domain.release(b, cpu);
        freeSlots.add(b.iova);
      } else {
        Buffer b = live.get(h.rnd.nextInt(live.size()));
        access(h, domain, b.iova + (h.rnd.nextLong(16) << 12), 4096, h.rnd.nextBoolean());
      }
    }
  }

  /**
   * Shared virtual addressing on one device: processes bind (SVA_BIND; the lowest free PASID), the
   * device accesses their address space by PASID, and they finish (SVA_UNBIND, MM_EXIT,
   * PASID_FREE).
   */
  static final class Sva extends Actor {
    final String device;
    final long svaDomain;
    final BitSet pasids = new BitSet();
    final List<long[]> procs = new ArrayList<>(); // {pasid, mm, va base}
    long nextMm = 0xffff888100000000L;

    /** The injection using this device's PASIDs, or null. */
    Object busy;

    Sva(HostGenerator h, String device, long svaDomain, double weight) {
      super(h, null, weight);
      this.device = device;
      this.svaDomain = svaDomain;
    }

    @Override
    void step() {
      int r = h.rnd.nextInt(100);
      if (procs.size() < 3 && (procs.isEmpty() || r < 8)) {
        procs.add(bind());
      } else if (!procs.isEmpty() && r < 14) {
        finish(procs.remove(h.rnd.nextInt(procs.size())));
      } else {
        long[] p = procs.get(h.rnd.nextInt(procs.size()));
        accessPasid(p);
      }
    }

    long[] bind() {
      int pasid = pasids.nextClearBit(1);
      pasids.set(pasid);
      long mm = nextMm;
      nextMm += 0x1000 * (1 + h.rnd.nextInt(64));
      long[] p = {pasid, mm, 0x7f0000000000L + (h.rnd.nextLong(0x100000) << 12)};
      h.tick(1_000, 10_000);
      h.emit(
          EventType.SVA_BIND,
          h.randomCpu(),
          svaDomain,
          device,
          Attribution.TRACE,
          new PasidOp(pasid, mm));
      return p;
    }

    IommuEvent accessPasid(long[] p) {
      h.tick(100, 2_000);
      return h.emit(
          EventType.DEVICE_ACCESS,
          -1,
          svaDomain,
          device,
          Attribution.TRACE,
          new DeviceAccess(
              p[2] + (h.rnd.nextLong(4096) << 6),
              64 + h.rnd.nextLong(960),
              h.rnd.nextBoolean(),
              (int) p[0]));
    }

    IommuEvent unbind(long[] p) {
      h.tick(1_000, 10_000);
      return h.emit(
          EventType.SVA_UNBIND,
          h.randomCpu(),
          svaDomain,
          device,
          Attribution.TRACE,
          new PasidOp((int) p[0], p[1]));
    }

    IommuEvent mmExit(long[] p) {
      h.tick(1_000, 10_000);
      return h.emit(
          EventType.MM_EXIT,
          h.randomCpu(),
          svaDomain,
          null,
          Attribution.TRACE,
          new PasidOp((int) p[0], p[1]));
    }

    IommuEvent pasidFree(long[] p) {
      h.tick(500, 5_000);
      IommuEvent e =
          h.emit(
              EventType.PASID_FREE,
              h.randomCpu(),
              svaDomain,
              null,
              Attribution.TRACE,
              new PasidOp((int) p[0], p[1]));
      pasids.clear((int) p[0]);
      return e;
    }

    void finish(long[] p) {
      unbind(p);
      mmExit(p);
      pasidFree(p);
    }
  }
}
