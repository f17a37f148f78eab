package dev.tidemark.client;

/** 413 payload_too_large: the value is beyond the sidecar's http.max_blob_bytes. */
public class PayloadTooLargeException extends TidemarkException {
  private static final long serialVersionUID = 1L;

  public PayloadTooLargeException(String message, int status, String code) {
    super(message, status, code);
  }
}
