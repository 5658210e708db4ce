package io.iommureplay.importer;

/**
 * Reads {@code name=value} fields out of a trace line body, as tracepoints and kprobe events print
 * them: {@code iova=0x00000000ffff2000}, {@code size=4096}, {@code dev="0000:00:04.0"}, {@code
 * dma_addr=ffff2000} (the dma:* events print hex without 0x). Works on the line in place; nothing
 * is allocated except for string values.
 */
final class BodyFields {
  private String s;
  private int from;

  void reset(String line, int bodyStart) {
    s = line;
    from = bodyStart;
  }

  /** Index of the value of {@code key} (which ends with '='), or -1. */
  private int valueIndex(String key) {
    for (int k = s.indexOf(key, from); k >= 0; k = s.indexOf(key, k + 1)) {
      if (k == from || s.charAt(k - 1) == ' ' || s.charAt(k - 1) == ',') return k + key.length();
    }
    return -1;
  }

  boolean has(String key) {
    return valueIndex(key) >= 0;
  }

  /** True when the kprobe could not read the argument (it prints "(fault)"). */
  boolean faulted(String key) {
    int v = valueIndex(key);
    return v >= 0 && s.startsWith("(fault)", v);
  }

  /** A number printed as 0x-prefixed hex or as decimal (optionally negative). */
  long number(String key) throws MalformedLineException {
    int v = require(key);
    if (s.startsWith("0x", v)) return hexAt(key, v + 2);
    return decimalAt(key, v);
  }

  /** A number printed as hex, with or without 0x. */
  long hex(String key) throws MalformedLineException {
    int v = require(key);
    return hexAt(key, s.startsWith("0x", v) ? v + 2 : v);
  }

  /** A string value: quoted (kprobe string fetch) or up to the next space. */
  String string(String key) throws MalformedLineException {
    int v = require(key);
    if (v < s.length() && s.charAt(v) == '"') {
      int end = s.indexOf('"', v + 1);
      if (end < 0) throw new MalformedLineException("unterminated string in " + key);
      return s.substring(v + 1, end);
    }
    int end = s.indexOf(' ', v);
    return s.substring(v, end < 0 ? s.length() : end);
  }

  /**
   * An array as {@code __print_array} prints it, {@code {0x1000,0x2000}} (the dma:* scatterlist
   * events); null when {@code key} is absent.
   */
  long[] hexArray(String key) throws MalformedLineException {
    int v = valueIndex(key);
    if (v < 0) return null;
    int space = s.indexOf(' ', v);
    int end = space < 0 ? s.length() : space;
    if (end - v < 2 || s.charAt(v) != '{' || s.charAt(end - 1) != '}') throw badArray(key, v);
    if (end - v == 2) return new long[0];
    String[] elements = s.substring(v + 1, end - 1).split(",", -1);
    long[] values = new long[elements.length];
    for (int i = 0; i < elements.length; i++) {
      String e = elements[i];
      if (!e.startsWith("0x") || e.length() < 3 || e.length() > 18) throw badArray(key, v);
      try {
        values[i] = Long.parseUnsignedLong(e, 2, e.length(), 16);
      } catch (NumberFormatException x) {
        throw badArray(key, v);
      }
    }
    return values;
  }

  private MalformedLineException badArray(String key, int v) {
    int space = s.indexOf(' ', v);
    return new MalformedLineException(
        "bad array for "
            + key.substring(0, key.length() - 1)
            + ": "
            + s.substring(v, space < 0 ? s.length() : space));
  }

  /** The total of a {@code shown/total} count such as dma_map_sg's {@code nents=128/130}. */
  long total(String key) throws MalformedLineException {
    int v = require(key);
    int end = endOfToken(v);
    int slash = s.indexOf('/', v);
    try {
      if (slash < 0 || slash >= end) throw new NumberFormatException();
      Integer.parseInt(s, v, slash, 10);
      return Integer.parseInt(s, slash + 1, end, 10);
    } catch (NumberFormatException e) {
      throw new MalformedLineException(
          "bad count for " + key.substring(0, key.length() - 1) + ": " + s.substring(v, end));
    }
  }

  private int require(String key) throws MalformedLineException {
    int v = valueIndex(key);
    if (v < 0)
      throw new MalformedLineException("missing field " + key.substring(0, key.length() - 1));
    if (s.startsWith("(fault)", v)) {
      throw new MalformedLineException(
          "field " + key.substring(0, key.length() - 1) + " could not be read (fault)");
    }
    return v;
  }

  private long hexAt(String key, int p) throws MalformedLineException {
    long value = 0;
    int start = p;
    for (; p < s.length(); p++) {
      int d = Character.digit(s.charAt(p), 16);
      if (d < 0) break;
      if (p - start >= 16)
        throw new MalformedLineException("hex value of " + key + " is longer than 64 bits");
      value = value << 4 | d;
    }
    return endOfValue(key, start, p, value);
  }

  private long decimalAt(String key, int p) throws MalformedLineException {
    boolean negative = p < s.length() && s.charAt(p) == '-';
    if (negative) p++;
    int start = p;
    long value = 0;
    for (; p < s.length(); p++) {
      char ch = s.charAt(p);
      if (ch < '0' || ch > '9') break;
      if (value > (Long.MAX_VALUE - 9) / 10) {
        // %zu/%llu can exceed a signed long: accept the full unsigned range, and no more.
        String token = s.substring(start, endOfToken(p));
        try {
          if (!negative) return Long.parseUnsignedLong(token);
        } catch (NumberFormatException e) {
          // falls through to the rejection below
        }
        throw new MalformedLineException(
            "bad number for "
                + key.substring(0, key.length() - 1)
                + ": "
                + (negative ? "-" : "")
                + token);
      }
      value = value * 10 + (ch - '0');
    }
    return endOfValue(key, start, p, negative ? -value : value);
  }

  private long endOfValue(String key, int start, int p, long value) throws MalformedLineException {
    if (p == start || (p < s.length() && !isSeparator(s.charAt(p)))) {
      throw new MalformedLineException(
          "bad number for "
              + key.substring(0, key.length() - 1)
              + ": "
              + s.substring(start, endOfToken(p)));
    }
    return value;
  }

  private int endOfToken(int p) {
    while (p < s.length() && !isSeparator(s.charAt(p))) p++;
    return p;
  }

  private static boolean isSeparator(char ch) {
    return ch == ' ' || ch == ',' || ch == ')' || ch == ']';
  }

  /**
   * The function a kprobe line was hit in: {@code (func+0x0/0x90)} for an entry probe, {@code
   * (caller+0x1/0x2 <- func)} for a return probe; null when the body is not a kprobe's.
   */
  static String probedFunction(String line, int bodyStart) {
    if (bodyStart >= line.length() || line.charAt(bodyStart) != '(') return null;
    int close = line.indexOf(')', bodyStart);
    if (close < 0) return null;
    int arrow = line.indexOf(" <- ", bodyStart);
    if (arrow >= 0 && arrow < close) return line.substring(arrow + 4, close);
    int plus = line.indexOf('+', bodyStart);
    return line.substring(bodyStart + 1, plus > 0 && plus < close ? plus : close);
  }

  /** True for a kprobe return line ({@code ... <- func)}). */
  static boolean isReturnProbe(String line, int bodyStart) {
    int close = line.indexOf(')', bodyStart);
    int arrow = line.indexOf(" <- ", bodyStart);
    return arrow >= 0 && arrow < close;
  }
}
