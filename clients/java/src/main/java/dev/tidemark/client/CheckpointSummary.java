package dev.tidemark.client;

/** A retained checkpoint, as {@link TidemarkClient#checkpoints} lists it. */
public class CheckpointSummary {
  private final String id;
  private final long createdAtMs;
  private final String trigger;
  private final int partitions;
  private final int stateKeys;
  private final long stateBytes;

  public CheckpointSummary(String id, long createdAtMs, String trigger, int partitions, int stateKeys,
      long stateBytes) {
    this.id = id;
    this.createdAtMs = createdAtMs;
    this.trigger = trigger;
    this.partitions = partitions;
    this.stateKeys = stateKeys;
    this.stateBytes = stateBytes;
  }

  /** The checkpoint's id (a decimal string). */
  public String id() {
    return id;
  }

  public long createdAtMs() {
    return createdAtMs;
  }

  /** What took it: {@code "request"}, {@code "interval"}, {@code "shutdown"}, ... */
  public String trigger() {
    return trigger;
  }

  /** Partitions it holds offsets for. */
  public int partitions() {
    return partitions;
  }

  public int stateKeys() {
    return stateKeys;
  }

  public long stateBytes() {
    return stateBytes;
  }

  @Override
  public String toString() {
    return getClass().getSimpleName() + "{id=" + id + ", trigger=" + trigger + ", partitions=" + partitions
        + ", stateKeys=" + stateKeys + ", stateBytes=" + stateBytes + "}";
  }
}
