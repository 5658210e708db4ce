package io.iommureplay.importer;

/**
 * Canonical String instances for event names, looked up from a region of the line without
 * allocating: a trace repeats a few dozen names millions of times, and a canonical instance keeps
 * its hash code, so the switch and the counters that use it do not hash it again.
 */
final class EventNames {
  private static final int SLOTS = 256; // power of two, well above the names a trace holds
  private static final int MAX_KEPT = SLOTS / 2;
  private final String[] names = new String[SLOTS];
  private int kept;

  /** The name {@code line[from, to)} as a canonical instance. */
  String of(String line, int from, int to) {
    int length = to - from;
    int hash = 0;
    for (int i = from; i < to; i++) hash = 31 * hash + line.charAt(i);
    int slot = mix(hash) & (SLOTS - 1);
    for (String name; (name = names[slot]) != null; slot = (slot + 1) & (SLOTS - 1)) {
      if (name.length() == length && line.regionMatches(from, name, 0, length)) return name;
    }
    String name = line.substring(from, to);
    if (kept
        < MAX_KEPT) { // garbage input may hold endless distinct names: keep only the first ones
      names[slot] = name;
      kept++;
    }
    return name;
  }

  private static int mix(int hash) {
    return hash ^ (hash >>> 16);
  }
}
