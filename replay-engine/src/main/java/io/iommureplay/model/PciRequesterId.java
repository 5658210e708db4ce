package io.iommureplay.model;

/**
 * The PCI requester id (PCI_DEVID: bus << 8 | devfn) of a device named as pci_name() prints it,
 * {@code 0000:00:04.0}: what device-TLB invalidation descriptors carry as their source id.
 */
public final class PciRequesterId {
  /** What {@link #of} returns for a name that is not a PCI name (platform device, stream id). */
  public static final int NONE = -1;

  private PciRequesterId() {}

  public static int of(String name) {
    return of(name, 0, name.length());
  }

  /** The requester id of the name in {@code s[from, to)}, or {@link #NONE}. */
  public static int of(String s, int from, int to) {
    if (to - from != 12
        || s.charAt(from + 4) != ':'
        || s.charAt(from + 7) != ':'
        || s.charAt(from + 10) != '.') {
      return NONE;
    }
    try {
      return Integer.parseInt(s, from + 5, from + 7, 16) << 8
          | Integer.parseInt(s, from + 8, from + 10, 16) << 3
          | Integer.parseInt(s, from + 11, from + 12, 8);
    } catch (NumberFormatException e) {
      return NONE;
    }
  }
}
