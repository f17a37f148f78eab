package dev.tidemark.client;

import java.util.Objects;

/** One key of {@link TidemarkClient#listState}: its size in bytes and ETag. */
public final class StateEntry {
  private final String key;
  private final long size;
  private final String etag;

  public StateEntry(String key, long size, String etag) {
    this.key = Objects.requireNonNull(key);
    this.size = size;
    this.etag = etag;
  }

  public String key() {
    return key;
  }

  public long size() {
    return size;
  }

  public String etag() {
    return etag;
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof StateEntry)) return false;
    StateEntry e = (StateEntry) o;
    return key.equals(e.key) && size == e.size && Objects.equals(etag, e.etag);
  }

  @Override
  public int hashCode() {
    return Objects.hash(key, size, etag);
  }

  @Override
  public String toString() {
    return "StateEntry{" + key + ", " + size + " bytes, etag=" + etag + "}";
  }
}
