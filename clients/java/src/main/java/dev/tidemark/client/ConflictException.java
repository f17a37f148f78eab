package dev.tidemark.client;

/** 409 precondition_failed: the If-Match ETag is not the current one. */
public class ConflictException extends TidemarkException {
  private static final long serialVersionUID = 1L;

  public ConflictException(String message, int status, String code) {
    super(message, status, code);
  }
}
