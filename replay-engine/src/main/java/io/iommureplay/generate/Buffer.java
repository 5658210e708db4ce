package io.iommureplay.generate;

import io.iommureplay.schema.IommuEvent;

/**
 * One DMA buffer of a domain: an IOVA range (an allocation of {@code pages} granules at {@code
 * pfn}, or a range the driver chose itself in an UNMANAGED domain) mapped to physical pieces of the
 * domain's pool, one map call per piece (a 2 KiB piece maps its whole page).
 */
final class Buffer {
  final long iova;

  /** First pfn of the IOVA allocation, or -1 when the buffer has none (UNMANAGED domains). */
  final long pfn;

  /** Granules allocated (what free_iova_fast() is given back). */
  final long pages;

  /** Bytes mapped from {@code iova} on. */
  final long bytes;

  final long[] pieces;
  final byte[] log2;

  /** The first map event of the buffer. */
  IommuEvent mapEvent;

  int mapCpu;

  Buffer(long iova, long pfn, long pages, long bytes, long[] pieces, byte[] log2) {
    this.iova = iova;
    this.pfn = pfn;
    this.pages = pages;
    this.bytes = bytes;
    this.pieces = pieces;
    this.log2 = log2;
  }

  /** A buffer of one piece. */
  static Buffer single(long iova, long pfn, long pages, long piece, int log2) {
    long mapped = Math.max(4096, 1L << log2);
    return new Buffer(iova, pfn, pages, mapped, new long[] {piece}, new byte[] {(byte) log2});
  }

  /** Where the device's data starts: the IOVA plus the piece's offset in its page. */
  long dmaAddress() {
    return iova + (pieces[0] & 4095);
  }

  /** Usable bytes of the buffer (a 2 KiB piece is 2 KiB, though its whole page is mapped). */
  long usableBytes() {
    return log2.length == 1 && log2[0] < 12 ? 1L << log2[0] : bytes;
  }
}
