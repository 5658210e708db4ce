package io.iommureplay.importer;

/** A trace line of a known kind whose body does not have the fields its format promises. */
public final class MalformedLineException extends Exception {
  private static final long serialVersionUID = 1L;

  public MalformedLineException(String reason) {
    super(reason, null, false, false); // thrown per bad line: no stack trace needed
  }
}
