package dev.tidemark.client;

/** 401 unauthenticated: no token, or not the sidecar's token. */
public class UnauthenticatedException extends TidemarkException {
  private static final long serialVersionUID = 1L;

  public UnauthenticatedException(String message, int status, String code) {
    super(message, status, code);
  }
}
