package dev.tidemark.client;

/** 400: the request was refused as invalid (invalid_key, invalid_offsets, invalid_argument, malformed_json, invalid_commit). */
public class BadRequestException extends TidemarkException {
  private static final long serialVersionUID = 1L;

  public BadRequestException(String message, int status, String code) {
    super(message, status, code);
  }
}
