package dev.tidemark.client;

/**
 * No answer from the sidecar (status 0): code {@code "timeout"} when none came
 * within the client's timeout, {@code "interrupted"} when the calling thread was
 * interrupted, {@code "transport"} otherwise (connection refused, reset, ...).
 */
public class TransportException extends TidemarkException {
  private static final long serialVersionUID = 1L;

  public TransportException(String message, String code, Throwable cause) {
    super(message, 0, code, cause);
  }
}
