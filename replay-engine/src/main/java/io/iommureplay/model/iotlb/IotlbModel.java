package io.iommureplay.model.iotlb;

import io.iommureplay.model.iotlb.IotlbConfig.Mode;
import io.iommureplay.model.iotlb.IotlbListener.Closure;
import io.iommureplay.model.snapshot.SnapshotFormatException;
import io.iommureplay.model.snapshot.SnapshotInput;
import io.iommureplay.model.snapshot.SnapshotOutput;
import io.iommureplay.schema.FlushScope;
import io.iommureplay.schema.IotlbInvalidation;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The translation caches of an IOMMU's domains as far as stale translations go: the IOTLB, the
 * device TLBs of ATS devices and the paging-structure caches. When an unmap clears PTEs, the caches
 * may go on translating the range until an invalidation covers it (dma-iommu's flush queue defers
 * that by up to 10 ms): the range is a {@link Window}. When a table page is unlinked, the
 * paging-structure caches may still point at it until an invalidation with IH=0 drops them: it is a
 * {@link StaleTable}. Invalidations ({@link #invalidate}) close windows wholly or in part and
 * retire stale tables; what happens is told to an {@link IotlbListener}.
 *
 * <p>Both are kept per domain as ranges in interval trees, never per page: an unmap of 1 GiB is one
 * extent, and memory is proportional to the open windows (plus, in {@link Mode#OBSERVED}, the
 * accessed ranges of live mappings). Each extent records which caches may hold it (see {@link
 * DomainCaches}): a window of an ATS device closes only once the IOTLB and the device TLB were both
 * invalidated. Addresses are bytes below {@link #IOVA_LIMIT}, cached per 4 KiB page.
 *
 * <p>Domains are second stage unless {@link #defineDomain declared} first stage; any method naming
 * an unknown domain in a change creates it. Not thread-safe: one replay thread owns the model.
 */
public final class IotlbModel {

  /** VTD_PAGE_SHIFT: translations are cached and invalidated per 4 KiB page. */
  static final int PAGE_SHIFT = 12;

  static final long PAGE_MASK = (1L << PAGE_SHIFT) - 1;

  /**
   * The model holds IOVAs below 2^62 (ranges reaching beyond are refused): cached ranges then never
   * overflow.
   */
  public static final long IOVA_LIMIT = 1L << 62;

  /** IOMMU_NO_PASID: requests without PASID (RID2PASID in scalable mode). */
  public static final int NO_PASID = 0;

  /** Version of what {@link #save} writes; bump it with every change of the format. */
  private static final int FORMAT_VERSION = 1;

  /** Receives the open pieces of windows. */
  @FunctionalInterface
  public interface RangeVisitor {
    /** {@code [first, last]} (bytes, page-aligned) of {@code window} is still cached. */
    void visit(Window window, long first, long last);
  }

  private final IotlbConfig config;
  private final IotlbListener listener;

  /** Open addressing by domain id, linear probing; at most half full. */
  private DomainCaches[] domains = new DomainCaches[16];

  private int domainCount;
  private long nextId;
  private Extent lruOldest;
  private Extent lruNewest;

  /** Pages held by the IOTLB: extents with an IOTLB holder. */
  private long cachedPages;

  /** Scratch list of the change in progress, and the windows it touched (see {@link #note}). */
  private final ArrayList<Extent> hits = new ArrayList<>();

  private final ArrayList<Window> touched = new ArrayList<>();
  private long mark = 1;

  public IotlbModel(IotlbConfig config, IotlbListener listener) {
    this.config = config;
    this.listener = listener;
  }

  public IotlbConfig config() {
    return config;
  }

  // ---- domains and devices ----

  /**
   * Declares a domain before any other use: {@code firstStage} for a VT-d scalable-mode domain
   * translating IOVAs with first-stage tables ({@code domain->use_first_level}), whose IOTLB
   * entries are tagged per PASID and flushed with PASID-based descriptors.
   *
   * @throws IllegalStateException if the model already knows the domain
   */
  public void defineDomain(long domain, boolean firstStage) {
    if (find(domain) != null) {
      throw new IllegalStateException("domain " + domain + " is already known");
    }
    add(new DomainCaches(domain, firstStage));
  }

  /**
   * {@code device} (named as the kernel names it; a PCI name gives the requester id device-TLB
   * flushes select by) now issues requests to {@code domain} with {@code pasid} ({@link #NO_PASID}
   * for requests without one); {@code ats}: it has a device TLB.
   */
  public void attach(long domain, String device, int pasid, boolean ats) {
    domain(domain).attach(device, pasid, ats);
  }

  /** Ends an attachment; what its caches hold stays until invalidated. */
  public void detach(long domain, String device, int pasid) {
    domain(domain).detach(device, pasid);
  }

  /**
   * Forgets a freed domain: windows still open close with {@link Closure#DOMAIN_REMOVED} (a
   * detector reports them first), stale tables are dropped without a callback.
   */
  public void removeDomain(long domain, long tsNs, long seq) {
    DomainCaches d = find(domain);
    if (d == null) {
      return;
    }
    for (ExtentTree tree : List.of(d.windows, d.live)) {
      for (Extent p : tree.all()) {
        clear(tree, p, -1L, p.first, p.last);
      }
    }
    for (Extent table : d.tables.all()) {
      table.holders = 0;
    }
    report(tsNs, seq, Closure.DOMAIN_REMOVED, 0);
    for (int i = 0; i < domains.length; i++) {
      if (domains[i] == d) {
        domains[i] = null;
      }
    }
    domainCount--;
    rehash(domains.length);
  }

  // ---- events ----

  /**
   * An unmap of {@code [iova, iova + size)} whose pages pointed to {@code paddr} onwards ({@link
   * Window#NO_PADDR} if unknown). Conservative mode: a window with every cache of the domain's
   * attached devices (the IOTLB alone if none). Observed mode: a window of the accessed pages in
   * the range, in the caches the accesses went through, or none if no page was accessed.
   *
   * @return the window opened, or null
   */
  public Window unmap(long domain, long iova, long size, long paddr, int cpu, long tsNs, long seq) {
    return open(domain, iova, size, paddr, null, cpu, tsNs, seq);
  }

  /**
   * As {@link #unmap(long, long, long, long, int, long, long)} for a range of several physically
   * contiguous runs: {@code physRuns} holds (run iova, run paddr) pairs by ascending iova, the
   * first at {@code iova}.
   */
  public Window unmap(
      long domain, long iova, long size, long[] physRuns, int cpu, long tsNs, long seq) {
    boolean ordered = physRuns.length >= 2 && physRuns.length % 2 == 0 && physRuns[0] == iova;
    for (int i = 2; ordered && i < physRuns.length; i += 2) {
      ordered = physRuns[i] > physRuns[i - 2] && physRuns[i] - iova < size;
    }
    if (!ordered) {
      throw new IllegalArgumentException(
          "physical runs must be (iova, paddr) pairs ascending from 0x" + Long.toHexString(iova));
    }
    return open(domain, iova, size, physRuns[1], physRuns.clone(), cpu, tsNs, seq);
  }

  /**
   * A device access through {@code domain} to {@code [iova, iova + size)}, which its page table
   * translates (pass only the mapped part). Observed mode: its pages are cached, in the IOTLB and,
   * with ATS, in the device's TLB. Conservative mode: nothing changes.
   */
  public void deviceAccess(
      long domain, String device, int pasid, long iova, long size, long tsNs, long seq) {
    checkRange(iova, size);
    if (config.mode() != Mode.OBSERVED) {
      return;
    }
    DomainCaches d = domain(domain);
    long bits = d.requestBits(device, pasid);
    long first = iova & ~PAGE_MASK;
    long last = iova + size - 1 | PAGE_MASK;
    hits.clear();
    d.live.collect(first, last, hits);
    long next = first; // first page not yet known cached
    for (Extent p : hits) {
      if (p.first > next) {
        cacheLive(d, next, p.first - 1, bits);
      }
      if ((p.holders | bits) != p.holders) {
        d.live.remove(p);
        split(d.live, p, first, last);
        d.live.insert(p);
        setHolders(p, p.holders | bits);
      }
      lruTouch(p);
      next = p.last + 1;
    }
    if (next <= last) {
      cacheLive(d, next, last, bits);
    }
    evict(tsNs, seq);
  }

  /**
   * Applies an invalidation the hardware received (an IOTLB_FLUSH event; its {@code hwDomainId} is
   * not used: {@code domain} is the model's domain it was attributed to, ignored for GLOBAL).
   * Windows close, or narrow when it covers part of them; stale tables it drops paging-structure
   * entries for are retired. Which caches each scope reaches (VT-d spec 6.5.2.3-6.5.2.6, as QEMU
   * applies them):
   *
   * <ul>
   *   <li>GLOBAL, DOMAIN: every IOTLB holder and paging-structure entry (IH is ignored).
   *   <li>PAGE: second stage, the IOTLB in range (IH=0 also paging structures for it); first stage,
   *       everything of the domain id, as QEMU's {@code vtd_hash_remove_by_page()} reads the spec
   *       for first-stage entries.
   *   <li>PASID, PASID_PAGE: first stage only, that PASID's IOTLB entries (in range); they never
   *       reach second-stage entries.
   *   <li>DEVICE_TLB, PASID_DEVICE_TLB: the device TLB of the device with that requester id (all
   *       devices if absent), in range, for every PASID or that one, in {@code domain} (all domains
   *       if negative: the descriptor names no domain).
   * </ul>
   *
   * Page-selective ranges are {@code [iova, iova + size)}, size 0 meaning the whole space.
   */
  public void invalidate(long domain, IotlbInvalidation inv, long tsNs, long seq) {
    long iova = inv.getIova();
    long end = iova + inv.getSize() - 1; // unsigned, like the size: 0 is 2^64 (AM 52) wrapped
    long first =
        iova < 0
            ? Long.MAX_VALUE
            : iova & ~PAGE_MASK; // at or above 2^63: above all the model holds
    long last = inv.getSize() == 0 || end < 0 || end < iova ? Long.MAX_VALUE : end | PAGE_MASK;
    DomainCaches d = find(domain);
    FlushScope scope = inv.getScope();
    switch (scope) {
      case GLOBAL -> {
        for (DomainCaches each : sortedDomains()) {
          flush(each, each.iotlbBits, 0, Long.MAX_VALUE, false, tsNs, seq);
        }
      }
      case DOMAIN, PAGE -> {
        if (d != null && (scope == FlushScope.DOMAIN || d.firstStage)) {
          flush(d, d.iotlbBits, 0, Long.MAX_VALUE, false, tsNs, seq);
        } else if (d != null) {
          flush(d, d.iotlbBits, first, last, inv.getLeafOnly(), tsNs, seq);
        }
      }
      case PASID, PASID_PAGE -> {
        if (d != null && d.firstStage) {
          boolean page = scope == FlushScope.PASID_PAGE;
          flush(
              d,
              d.iotlbBit(pasidOf(inv)),
              page ? first : 0,
              page ? last : Long.MAX_VALUE,
              page && inv.getLeafOnly(),
              tsNs,
              seq);
        }
      }
      case DEVICE_TLB, PASID_DEVICE_TLB -> {
        Integer pasid = scope == FlushScope.PASID_DEVICE_TLB ? pasidOf(inv) : null;
        List<DomainCaches> targets =
            domain < 0 ? sortedDomains() : d == null ? List.of() : List.of(d);
        for (DomainCaches each : targets) {
          flush(each, each.deviceTlbBits(inv.getSourceId(), pasid), first, last, true, tsNs, seq);
        }
      }
      default -> throw new IllegalArgumentException("invalidation of unknown scope " + scope);
    }
  }

  /**
   * A table page of {@code level} spanning {@code [spanStart, spanStart + spanSize)} was unlinked
   * from {@code domain}'s table: the paging-structure caches of the IOTLB holders attached now (in
   * either mode: a walk needs no device access the model sees) may still point at it.
   */
  public StaleTable tableUnlinked(
      long domain, int level, long spanStart, long spanSize, long tsNs, long seq) {
    checkRange(spanStart, spanSize);
    DomainCaches d = domain(domain);
    StaleTable table =
        new StaleTable(
            d,
            nextId++,
            spanStart & ~PAGE_MASK,
            spanStart + spanSize - 1 | PAGE_MASK,
            d.conservativeBits(true),
            level,
            seq,
            tsNs);
    d.tables.insert(table);
    return table;
  }

  // ---- queries ----

  /**
   * The most recently unlinked table of exactly this span that the paging-structure caches may
   * still point at, or null: ask it when the table page is freed or reused.
   */
  public StaleTable cachedTable(long domain, long spanStart, long spanSize) {
    checkRange(spanStart, spanSize);
    DomainCaches d = find(domain);
    long first = spanStart & ~PAGE_MASK;
    long last = spanStart + spanSize - 1 | PAGE_MASK;
    StaleTable found = null;
    for (Extent e : d == null ? List.<Extent>of() : overlaps(d.tables, first, last)) {
      if (e.first == first && e.last == last) {
        found = (StaleTable) e;
      }
    }
    return found;
  }

  /**
   * The cached pieces of {@code domain}'s windows overlapping {@code [iova, iova + size)} that a
   * request of {@code device} with {@code pasid} could hit (its IOTLB entries and its own device
   * TLB; every piece if {@code device} is null), in address order.
   */
  public void forEachOpenRange(
      long domain, String device, int pasid, long iova, long size, RangeVisitor visitor) {
    checkRange(iova, size);
    DomainCaches d = find(domain);
    if (d == null) {
      return;
    }
    long bits = d.readBits(device, pasid);
    for (Extent p : overlaps(d.windows, iova & ~PAGE_MASK, iova + size - 1 | PAGE_MASK)) {
      if ((p.holders & bits) != 0) {
        visitor.visit(p.window, p.first, p.last);
      }
    }
  }

  /** The cached pieces of {@code window}, in address order. */
  /**
   * The open parts of any window of {@code domain} in {@code [iova, iova + size)}, whatever cache
   * holds them.
   */
  public void forEachOpenRange(long domain, long iova, long size, RangeVisitor visitor) {
    checkRange(iova, size);
    DomainCaches d = find(domain);
    if (d == null) {
      return;
    }
    for (Extent p : overlaps(d.windows, iova & ~PAGE_MASK, iova + size - 1 | PAGE_MASK)) {
      if (p.holders != 0) {
        visitor.visit(p.window, p.first, p.last);
      }
    }
  }

  public void forEachOpenRange(Window window, RangeVisitor visitor) {
    for (Extent p : pieces(window)) {
      visitor.visit(window, p.first, p.last);
    }
  }

  /** Every open window of {@code domain}, in address order of its first cached piece. */
  public void forEachOpenWindow(long domain, Consumer<Window> action) {
    DomainCaches d = find(domain);
    if (d == null) {
      return;
    }
    long m = ++mark; // then a new mark again: windows noted by a change in progress keep theirs
    for (Extent p : d.windows.all()) {
      if (p.window.mark != m) {
        p.window.mark = m;
        action.accept(p.window);
      }
    }
    mark++;
  }

  /** Pages the IOTLB holds (those {@link IotlbConfig#capacityPages()} limits). */
  public long cachedPages() {
    return cachedPages;
  }

  // ---- windows ----

  private Window open(
      long domain,
      long iova,
      long size,
      long paddr,
      long[] physRuns,
      int cpu,
      long tsNs,
      long seq) {
    checkRange(iova, size);
    DomainCaches d = domain(domain);
    long first = iova & ~PAGE_MASK;
    long last = iova + size - 1 | PAGE_MASK;
    boolean observed = config.mode() == Mode.OBSERVED;
    if (observed) {
      hits.clear();
      d.live.collect(first, last, hits);
      if (hits.isEmpty()) {
        return null;
      }
    }
    Window w =
        new Window(
            d, nextId++, first, last, seq, tsNs, cpu, iova, size, paddr, physRuns, d.devices);
    if (observed) { // the accessed pieces become the window's, with their caches and LRU places
      for (Extent p : hits) {
        d.live.remove(p);
        split(d.live, p, first, last);
        p.window = w;
        w.openBytes += p.bytes();
        d.windows.insert(p);
      }
    } else { // the window is its own piece
      d.windows.insert(w);
      w.openBytes = w.bytes();
      setHolders(w, d.conservativeBits(false));
    }
    evict(tsNs, seq);
    return w;
  }

  private void cacheLive(DomainCaches d, long first, long last, long bits) {
    Extent e = new Extent(d, nextId++, first, last, 0, null);
    d.live.insert(e);
    setHolders(e, bits);
  }

  /** Takes {@code bits} out of the domain's caches over {@code [first, last]}, then reports. */
  private void flush(
      DomainCaches d, long bits, long first, long last, boolean leafOnly, long tsNs, long seq) {
    if (bits == 0) {
      return;
    }
    clearRange(d.windows, bits, first, last);
    clearRange(d.live, bits, first, last);
    if (!leafOnly) {
      retireTables(d, bits, first, last, tsNs, seq);
    }
    report(tsNs, seq, Closure.INVALIDATED, bits);
  }

  private void clearRange(ExtentTree tree, long bits, long first, long last) {
    hits.clear();
    tree.collect(first, last, hits);
    for (Extent p : hits) {
      if ((p.holders & bits) != 0) {
        clear(tree, p, bits, first, last);
      }
    }
  }

  /**
   * Paging-structure entries that control any address of a table's span point at it; dropping them
   * for part of the span drops the one pointing at the table (VT-d spec 6.5.2.3, IH).
   */
  private void retireTables(DomainCaches d, long bits, long first, long last, long tsNs, long seq) {
    hits.clear();
    d.tables.collect(first, last, hits);
    for (Extent e : hits) {
      e.holders &= ~bits;
      if (e.holders == 0) {
        d.tables.remove(e);
        StaleTable table = (StaleTable) e;
        listener.tableFlushed(table, tsNs - table.tsNs(), seq);
      }
    }
  }

  /**
   * Takes {@code bits} out of the part of {@code p} inside {@code [first, last]}; p is in {@code
   * tree}.
   */
  private void clear(ExtentTree tree, Extent p, long bits, long first, long last) {
    tree.remove(p);
    split(tree, p, first, last);
    setHolders(p, p.holders & ~bits);
    if (p.holders != 0) {
      tree.insert(p);
    } else if (p.window != null) {
      p.window.openBytes -= p.bytes();
    }
    if (p.window != null) {
      note(p.window);
    }
  }

  /**
   * Cuts the parts of {@code p} outside {@code [first, last]} off into extents of their own in
   * {@code tree}, with p's holders, window and LRU place; p keeps the inside. p is out of the tree.
   */
  private void split(ExtentTree tree, Extent p, long first, long last) {
    if (p.first < first) {
      Extent low = new Extent(p.domain, nextId++, p.first, first - 1, p.holders, p.window);
      lruBeside(low, p, true);
      tree.insert(low);
      p.first = first;
    }
    if (p.last > last) {
      Extent high = new Extent(p.domain, nextId++, last + 1, p.last, p.holders, p.window);
      lruBeside(high, p, false);
      tree.insert(high);
      p.last = last;
    }
  }

  /** Evicts the least recently used IOTLB pages beyond the capacity. */
  private void evict(long tsNs, long seq) {
    long capacity = config.capacityPages();
    while (capacity != IotlbConfig.UNLIMITED && cachedPages > capacity) {
      Extent p = lruOldest;
      long last = Math.min(p.last, p.first + (cachedPages - capacity << PAGE_SHIFT) - 1);
      clear(
          p.window != null ? p.domain.windows : p.domain.live,
          p,
          p.domain.iotlbBits,
          p.first,
          last);
    }
    report(tsNs, seq, Closure.EVICTED, 0);
  }

  /** Remembers that the change in progress touched {@code w}, once. */
  private void note(Window w) {
    if (w.mark != mark) {
      w.mark = mark;
      touched.add(w);
    }
  }

  /**
   * Tells the listener about the windows the change touched; {@code bits} are the caches an
   * invalidation addressed.
   */
  private void report(long tsNs, long seq, Closure cause, long bits) {
    for (Window w : touched) {
      if (w.openBytes == 0) {
        listener.windowClosed(w, tsNs - w.tsNs(), seq, cause);
      } else if (bits != 0) {
        long missed = 0;
        for (Extent p : pieces(w)) {
          missed += (p.holders & bits) != 0 ? p.bytes() : 0;
        }
        if (missed != 0) {
          listener.windowPartlyInvalidated(w, missed, seq);
        }
      }
    }
    touched.clear();
    mark++;
  }

  private static List<Extent> pieces(Window w) {
    List<Extent> pieces = overlaps(w.domain.windows, w.firstPage(), w.lastPageEnd());
    pieces.removeIf(p -> p.window != w);
    return pieces;
  }

  private static List<Extent> overlaps(ExtentTree tree, long first, long last) {
    List<Extent> out = new ArrayList<>();
    tree.collect(first, last, out);
    return out;
  }

  // ---- IOTLB occupancy and LRU order ----

  private static boolean inIotlb(Extent p) {
    return (p.holders & p.domain.iotlbBits) != 0;
  }

  /** Sets the holders, keeping the IOTLB page count and the LRU list (newest on entering) right. */
  private void setHolders(Extent p, long holders) {
    boolean was = inIotlb(p);
    p.holders = holders;
    boolean is = inIotlb(p);
    if (was != is) {
      cachedPages += is ? p.pages() : -p.pages();
      if (is) {
        lruAppend(p);
      } else {
        lruUnlink(p);
      }
    }
  }

  private void lruAppend(Extent p) {
    if (config.capacityPages() == IotlbConfig.UNLIMITED) {
      return;
    }
    p.older = lruNewest;
    p.newer = null;
    if (lruNewest != null) {
      lruNewest.newer = p;
    } else {
      lruOldest = p;
    }
    lruNewest = p;
    p.inLru = true;
  }

  private void lruUnlink(Extent p) {
    if (!p.inLru) {
      return;
    }
    if (p.older != null) {
      p.older.newer = p.newer;
    } else {
      lruOldest = p.newer;
    }
    if (p.newer != null) {
      p.newer.older = p.older;
    } else {
      lruNewest = p.older;
    }
    p.older = null;
    p.newer = null;
    p.inLru = false;
  }

  private void lruTouch(Extent p) {
    if (p.inLru && p != lruNewest) {
      lruUnlink(p);
      lruAppend(p);
    }
  }

  /** Puts a piece cut off {@code p} right before or after it, so lower addresses go first. */
  private void lruBeside(Extent piece, Extent p, boolean before) {
    if (!p.inLru) {
      return;
    }
    Extent older = before ? p.older : p;
    Extent newer = before ? p : p.newer;
    piece.older = older;
    piece.newer = newer;
    if (older != null) {
      older.newer = piece;
    } else {
      lruOldest = piece;
    }
    if (newer != null) {
      newer.older = piece;
    } else {
      lruNewest = piece;
    }
    piece.inLru = true;
  }

  // ---- the domain table ----

  private DomainCaches find(long id) {
    int mask = domains.length - 1;
    for (int i = slot(id, mask); ; i = i + 1 & mask) {
      DomainCaches d = domains[i];
      if (d == null || d.id == id) {
        return d;
      }
    }
  }

  private DomainCaches domain(long id) {
    DomainCaches d = find(id);
    return d != null ? d : add(new DomainCaches(id, false));
  }

  private DomainCaches add(DomainCaches d) {
    if (2 * ++domainCount > domains.length) {
      rehash(domains.length * 2);
    }
    place(d);
    return d;
  }

  private void place(DomainCaches d) {
    int mask = domains.length - 1;
    int i = slot(d.id, mask);
    while (domains[i] != null) {
      i = i + 1 & mask;
    }
    domains[i] = d;
  }

  private void rehash(int capacity) {
    DomainCaches[] old = domains;
    domains = new DomainCaches[capacity];
    for (DomainCaches d : old) {
      if (d != null) {
        place(d);
      }
    }
  }

  private static int slot(long id, int mask) {
    return (int) (id * 0x9E3779B97F4A7C15L >>> 32) & mask;
  }

  private List<DomainCaches> sortedDomains() {
    List<DomainCaches> out = new ArrayList<>(domainCount);
    for (DomainCaches d : domains) {
      if (d != null) {
        out.add(d);
      }
    }
    out.sort(Comparator.comparingLong(d -> d.id));
    return out;
  }

  private static void checkRange(long iova, long size) {
    if (iova < 0 || size <= 0 || size > IOVA_LIMIT - iova) {
      throw new IllegalArgumentException(
          "range 0x%x+0x%x is not within [0, 2^62)".formatted(iova, size));
    }
  }

  private static int pasidOf(IotlbInvalidation inv) {
    if (inv.getPasid() == null) {
      throw new IllegalArgumentException(inv.getScope() + " invalidation without a PASID");
    }
    return inv.getPasid();
  }

  // ---- snapshots ----

  /**
   * Writes the whole state: the configuration, then per domain (by id) its holders and attachments,
   * its windows, their cached pieces, its cached live ranges and its stale tables, each extent with
   * its rank in the LRU list (-1 if not in it).
   */
  public void save(SnapshotOutput out) {
    Map<Extent, Integer> rank = new IdentityHashMap<>();
    for (Extent e = lruOldest; e != null; e = e.newer) {
      rank.put(e, rank.size());
    }
    out.writeVarInt(FORMAT_VERSION)
        .writeEnum(config.mode())
        .writeVarLong(config.capacityPages())
        .writeVarLong(nextId)
        .writeVarInt(rank.size());
    List<DomainCaches> all = sortedDomains();
    out.writeVarInt(all.size());
    for (DomainCaches d : all) {
      out.writeSignedVarLong(d.id).writeBoolean(d.firstStage);
      d.save(out);
      List<Extent> pieces = d.windows.all();
      Map<Window, Integer> index = new IdentityHashMap<>();
      List<Window> windows = new ArrayList<>();
      for (Extent p : pieces) {
        if (index.putIfAbsent(p.window, windows.size()) == null) {
          windows.add(p.window);
        }
      }
      out.writeVarInt(windows.size());
      for (Window w : windows) {
        saveWindow(out, w);
      }
      out.writeVarInt(pieces.size());
      for (Extent p : pieces) {
        saveExtent(out.writeVarInt(index.get(p.window)), p, rank);
      }
      List<Extent> live = d.live.all();
      out.writeVarInt(live.size());
      for (Extent p : live) {
        saveExtent(out, p, rank);
      }
      List<Extent> tables = d.tables.all();
      out.writeVarInt(tables.size());
      for (Extent e : tables) {
        StaleTable t = (StaleTable) e;
        saveExtent(
            out.writeVarInt(t.level()).writeSignedVarLong(t.seq()).writeSignedVarLong(t.tsNs()),
            t,
            rank);
      }
    }
  }

  /** Reads what {@link #save} wrote; {@code listener} is not state and comes from the caller. */
  public static IotlbModel restore(SnapshotInput in, IotlbListener listener) {
    int version = in.readVarInt();
    if (version != FORMAT_VERSION) {
      throw new SnapshotFormatException(
          "IOTLB model format " + version + ", expected " + FORMAT_VERSION);
    }
    IotlbModel model =
        new IotlbModel(new IotlbConfig(in.readEnum(Mode.class), in.readVarLong()), listener);
    model.nextId = in.readVarLong();
    Extent[] lru = new Extent[in.readCount()];
    for (int n = in.readCount(); n > 0; n--) {
      model.restoreDomain(in, lru);
    }
    for (Extent e : lru) {
      if (e == null) {
        throw new SnapshotFormatException("the LRU list has a gap");
      }
      model.lruAppend(e);
    }
    return model;
  }

  private void restoreDomain(SnapshotInput in, Extent[] lru) {
    long id = in.readSignedVarLong();
    if (find(id) != null) {
      throw new SnapshotFormatException("domain " + id + " twice");
    }
    DomainCaches d = add(new DomainCaches(id, in.readBoolean()));
    d.restore(in);
    Window[] windows = new Window[in.readCount()];
    for (int i = 0; i < windows.length; i++) {
      windows[i] = restoreWindow(in, d);
    }
    for (int n = in.readCount(); n > 0; n--) {
      int i = in.readVarInt();
      if (i >= windows.length) {
        throw new SnapshotFormatException(
            "window " + i + " of " + windows.length + " in domain " + id);
      }
      Window w = windows[i];
      Saved s = Saved.read(in, d, lru);
      Extent p = s.id == w.id ? w : new Extent(d, s.id, s.first, s.last, s.holders, w);
      p.first = s.first;
      p.last = s.last;
      p.holders = s.holders;
      w.openBytes += p.bytes();
      restored(d.windows, p, s.rank, lru);
    }
    for (int n = in.readCount(); n > 0; n--) {
      Saved s = Saved.read(in, d, lru);
      restored(d.live, new Extent(d, s.id, s.first, s.last, s.holders, null), s.rank, lru);
    }
    for (int n = in.readCount(); n > 0; n--) {
      int level = in.readVarInt();
      long seq = in.readSignedVarLong();
      long tsNs = in.readSignedVarLong();
      Saved s = Saved.read(in, d, lru);
      if (s.rank >= 0) {
        throw new SnapshotFormatException("a stale table in the LRU list, domain " + id);
      }
      d.tables.insert(new StaleTable(d, s.id, s.first, s.last, s.holders, level, seq, tsNs));
    }
  }

  private void restored(ExtentTree tree, Extent e, int rank, Extent[] lru) {
    tree.insert(e);
    cachedPages += inIotlb(e) ? e.pages() : 0;
    if (rank >= 0) {
      lru[rank] = e;
    }
  }

  private static SnapshotOutput saveExtent(
      SnapshotOutput out, Extent e, Map<Extent, Integer> rank) {
    return out.writeLong(e.first)
        .writeLong(e.last)
        .writeLong(e.holders)
        .writeVarLong(e.id)
        .writeSignedVarLong(rank.getOrDefault(e, -1));
  }

  /** An extent's fields as {@link #saveExtent} wrote them. */
  private record Saved(long first, long last, long holders, long id, int rank) {
    static Saved read(SnapshotInput in, DomainCaches d, Extent[] lru) {
      long first = in.readLong();
      long last = in.readLong();
      long holders = in.readLong();
      long id = in.readVarLong();
      long rank = in.readSignedVarLong();
      if (first < 0
          || last < first
          || last >= IOVA_LIMIT
          || holders == 0
          || rank < -1
          || rank >= lru.length
          || rank >= 0 && lru[(int) rank] != null) {
        throw new SnapshotFormatException(
            "bad extent [0x%x, 0x%x] in domain %d".formatted(first, last, d.id));
      }
      return new Saved(first, last, holders, id, (int) rank);
    }
  }

  private static void saveWindow(SnapshotOutput out, Window w) {
    out.writeVarLong(w.id)
        .writeSignedVarLong(w.seq())
        .writeSignedVarLong(w.tsNs())
        .writeSignedVarLong(w.cpu())
        .writeLong(w.iova())
        .writeLong(w.size())
        .writeLong(w.paddr);
    long[] runs = w.physRuns == null ? new long[0] : w.physRuns;
    out.writeVarInt(runs.length);
    for (long v : runs) {
      out.writeLong(v);
    }
    out.writeVarInt(w.devices().size());
    for (String device : w.devices()) {
      out.writeString(device);
    }
  }

  private static Window restoreWindow(SnapshotInput in, DomainCaches d) {
    long id = in.readVarLong();
    long seq = in.readSignedVarLong();
    long tsNs = in.readSignedVarLong();
    int cpu = (int) in.readSignedVarLong();
    long iova = in.readLong();
    long size = in.readLong();
    long paddr = in.readLong();
    long[] runs = new long[in.readCount()];
    for (int i = 0; i < runs.length; i++) {
      runs[i] = in.readLong();
    }
    List<String> devices = new ArrayList<>();
    for (int n = in.readCount(); n > 0; n--) {
      devices.add(in.readString());
    }
    if (iova < 0
        || size <= 0
        || size > IOVA_LIMIT - iova
        || runs.length % 2 != 0
        || devices.contains(null)) {
      throw new SnapshotFormatException("bad window at seq " + seq + " in domain " + d.id);
    }
    return new Window(
        d,
        id,
        iova & ~PAGE_MASK,
        iova + size - 1 | PAGE_MASK,
        seq,
        tsNs,
        cpu,
        iova,
        size,
        paddr,
        runs.length == 0 ? null : runs,
        List.copyOf(devices));
  }
}
