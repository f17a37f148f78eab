package dev.tidemark.client;

import java.nio.charset.StandardCharsets;
import java.util.Objects;

/** A state value as {@link TidemarkClient#getState} reads it. */
public final class State {
  private final byte[] value;
  private final String contentType;
  private final String etag;

  State(byte[] value, String contentType, String etag) {
    this.value = Objects.requireNonNull(value);
    this.contentType = contentType;
    this.etag = etag;
  }

  /** The value's bytes (this object's own array: do not modify it). */
  public byte[] value() {
    return value;
  }

  /** The value decoded as UTF-8. */
  public String valueAsString() {
    return new String(value, StandardCharsets.UTF_8);
  }

  /** The content type it was stored with ({@code application/octet-stream} by default). */
  public String contentType() {
    return contentType;
  }

  /** Its ETag, for {@code ifMatch}. */
  public String etag() {
    return etag;
  }

  @Override
  public String toString() {
    return "State{" + value.length + " bytes, contentType=" + contentType + ", etag=" + etag + "}";
  }
}
