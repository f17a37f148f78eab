package dev.tidemark.client;

/** 404 not_found: no such key, checkpoint or route. */
public class NotFoundException extends TidemarkException {
  private static final long serialVersionUID = 1L;

  public NotFoundException(String message, int status, String code) {
    super(message, status, code);
  }
}
