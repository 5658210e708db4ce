package io.iommureplay.importer;

import java.io.BufferedInputStream;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;
import org.tukaani.xz.XZInputStream;

/**
 * Opens trace text that is plain, gzip- or xz-compressed, told apart by magic bytes, not by name.
 */
public final class TraceInput {
  private static final int BUFFER = 1 << 16;

  private TraceInput() {}

  /** Which compression a stream starts with. */
  public enum Compression {
    NONE,
    GZIP,
    XZ
  }

  public static BufferedReader open(Path path) throws IOException {
    InputStream raw = new BufferedInputStream(Files.newInputStream(path), BUFFER);
    try {
      return new BufferedReader(
          new InputStreamReader(decompressed(raw), StandardCharsets.UTF_8), BUFFER);
    } catch (IOException e) {
      raw.close();
      throw new IOException(path + ": " + e.getMessage(), e);
    }
  }

  /**
   * Wraps {@code in} (which must support mark/reset) in the decompressor its first bytes call for.
   */
  public static InputStream decompressed(InputStream in) throws IOException {
    return switch (compression(in)) {
      case GZIP -> new GZIPInputStream(in, BUFFER);
      case XZ -> new XZInputStream(in);
      case NONE -> in;
    };
  }

  public static Compression compression(InputStream in) throws IOException {
    in.mark(6);
    byte[] magic = in.readNBytes(6);
    in.reset();
    if (magic.length >= 2 && (magic[0] & 0xff) == 0x1f && (magic[1] & 0xff) == 0x8b)
      return Compression.GZIP;
    if (magic.length == 6
        && (magic[0] & 0xff) == 0xfd
        && magic[1] == '7'
        && magic[2] == 'z'
        && magic[3] == 'X'
        && magic[4] == 'Z'
        && magic[5] == 0) {
      return Compression.XZ;
    }
    return Compression.NONE;
  }
}
