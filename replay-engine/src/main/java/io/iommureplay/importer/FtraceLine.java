package io.iommureplay.importer;

/**
 * One ftrace text line split into its header and body, reused from line to line.
 *
 * <p>Layout (tracefs "trace" file and {@code trace-cmd report}): {@code COMM-PID [CPU] FLAGS
 * TIMESTAMP: EVENT: BODY}. COMM may contain '-', '/', ':' and spaces; FLAGS (irqs-off,
 * need-resched, hardirq/softirq, preempt depth, migrate-disable) is absent from plain {@code
 * trace-cmd report} output. Lines that start with '#', and the "cpus=N" line trace-cmd report
 * starts with, are headers.
 */
public final class FtraceLine {
  /** Interrupt nesting the line was recorded in, from the third FLAGS character. */
  public static final int TASK = 0;

  public static final int SOFTIRQ = 1;
  public static final int HARDIRQ = 2;
  public static final int NMI = 3;

  /**
   * Highest CPU number accepted. The importer keeps state per CPU, so a corrupt CPU field must not
   * size it; Linux allows at most 8192 CPUs (NR_CPUS), this leaves ample room.
   */
  static final int MAX_CPU = 65_535;

  String text;
  int cpu;
  int irqLevel;
  long tsNs;
  String event;
  private final EventNames eventNames = new EventNames();
  int bodyStart;

  public String text() {
    return text;
  }

  public int cpu() {
    return cpu;
  }

  /** {@link #TASK}, {@link #SOFTIRQ}, {@link #HARDIRQ} or {@link #NMI}. */
  public int irqLevel() {
    return irqLevel;
  }

  public long tsNs() {
    return tsNs;
  }

  public String event() {
    return event;
  }

  public String body() {
    return text.substring(bodyStart);
  }

  /**
   * Parses {@code line} into this object.
   *
   * @return false for blank, '#' and "cpus=N" header lines
   * @throws MalformedLineException when the line is neither a header nor an event line
   */
  public boolean parse(String line) throws MalformedLineException {
    text = line;
    int n = line.length();
    int i = 0;
    while (i < n && line.charAt(i) == ' ') i++;
    if (i == n || line.charAt(i) == '#' || isCpuCount(line, i)) return false;
    int open = cpuBracket(line, i, i);
    if (open < 0) throw new MalformedLineException("no [CPU] field after COMM-PID");
    MalformedLineException first = null;
    do {
      try {
        parseFrom(line, open);
        return true;
      } catch (MalformedLineException e) {
        // COMM may itself end like "-PID [CPU]" (a thread named "worker-3 [1]"): try the next one.
        if (first == null) first = e;
        open = cpuBracket(line, open + 1, i);
      }
    } while (open >= 0);
    throw first;
  }

  /** Parses what follows the '[' of the CPU field at {@code open}. */
  private void parseFrom(String line, int open) throws MalformedLineException {
    int n = line.length();
    int p = open + 1;
    long c = 0;
    while (line.charAt(p) != ']' && c <= MAX_CPU) c = c * 10 + (line.charAt(p++) - '0');
    if (c > MAX_CPU)
      throw new MalformedLineException(
          "bad CPU " + line.substring(open + 1, line.indexOf(']', open)));
    cpu = (int) c;
    p = skipSpaces(line, p + 1);
    // FLAGS is optional: a timestamp starts with a digit and ends with ':'.
    int tokenEnd = line.indexOf(' ', p);
    if (tokenEnd < 0) throw new MalformedLineException("line ends after the CPU field");
    irqLevel = TASK;
    if (line.charAt(tokenEnd - 1) != ':') {
      irqLevel = irqLevelOf(line, p, tokenEnd);
      p = skipSpaces(line, tokenEnd);
      tokenEnd = line.indexOf(' ', p);
      if (tokenEnd < 0 || line.charAt(tokenEnd - 1) != ':') {
        throw new MalformedLineException("no TIMESTAMP: field");
      }
    }
    tsNs = parseTimestamp(line, p, tokenEnd - 1);
    p = tokenEnd + 1;
    int colon = line.indexOf(':', p);
    if (colon < 0 || colon == p) throw new MalformedLineException("no EVENT: field");
    event = eventNames.of(line, p, colon);
    bodyStart = Math.min(colon + 2, n);
  }

  /**
   * Finds the first '[' at or after {@code searchFrom} that can be the one of "-PID [CPU]", COMM
   * starting at {@code from}. COMM may itself contain brackets, so the bracket must follow
   * "-digits" and whitespace and enclose only digits.
   */
  private static int cpuBracket(String line, int searchFrom, int from) {
    for (int open = line.indexOf('[', searchFrom); open > 0; open = line.indexOf('[', open + 1)) {
      int close = open + 1;
      while (close < line.length() && isDigit(line.charAt(close))) close++;
      if (close == open + 1 || close >= line.length() || line.charAt(close) != ']') continue;
      int q = open - 1;
      while (q > from && line.charAt(q) == ' ') q--;
      int digitsEnd = q;
      while (q > from && isDigit(line.charAt(q))) q--;
      if (q < digitsEnd && line.charAt(q) == '-') return open;
    }
    return -1;
  }

  /** The "cpus=N" line that starts {@code trace-cmd report} output. */
  private static boolean isCpuCount(String line, int from) {
    if (!line.startsWith("cpus=", from) || line.length() == from + 5) return false;
    for (int p = from + 5; p < line.length(); p++) {
      if (!isDigit(line.charAt(p))) return false;
    }
    return true;
  }

  /**
   * ASCII digits only: Character.isDigit also accepts other scripts' digits, which are no CPU
   * number.
   */
  private static boolean isDigit(char ch) {
    return ch >= '0' && ch <= '9';
  }

  private static int irqLevelOf(String line, int flagsStart, int flagsEnd) {
    if (flagsEnd - flagsStart < 3) return TASK;
    switch (line.charAt(flagsStart + 2)) {
      case 'Z':
      case 'z':
        return NMI;
      case 'h':
      case 'H':
        return HARDIRQ;
      case 's':
        return SOFTIRQ;
      default:
        return TASK;
    }
  }

  private static int skipSpaces(String line, int p) {
    while (p < line.length() && line.charAt(p) == ' ') p++;
    return p;
  }

  /**
   * "SECONDS.FRACTION" with any number of fraction digits (µs for the global clock, ns for others).
   */
  static long parseTimestamp(String s, int from, int to) throws MalformedLineException {
    long seconds = 0;
    int p = from;
    while (p < to && s.charAt(p) != '.') {
      char ch = s.charAt(p++);
      if (ch < '0' || ch > '9' || seconds > 9_000_000_000L) {
        throw new MalformedLineException("bad TIMESTAMP " + s.substring(from, to));
      }
      seconds = seconds * 10 + (ch - '0');
    }
    if (p == from)
      throw new MalformedLineException(
          "bad TIMESTAMP " + s.substring(from, to)); // no seconds digit
    long fraction = 0;
    int digits = 0;
    for (p++; p < to; p++) {
      char ch = s.charAt(p);
      if (ch < '0' || ch > '9')
        throw new MalformedLineException("bad TIMESTAMP " + s.substring(from, to));
      if (digits < 9) {
        fraction = fraction * 10 + (ch - '0');
        digits++;
      }
    }
    if (to == from || seconds > 9_000_000_000L)
      throw new MalformedLineException("bad TIMESTAMP " + s.substring(from, to));
    while (digits++ < 9) fraction *= 10;
    return seconds * 1_000_000_000L + fraction;
  }
}
