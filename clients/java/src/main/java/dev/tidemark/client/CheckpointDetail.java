package dev.tidemark.client;

import java.util.List;
import java.util.Optional;

/** One retained checkpoint with its offsets and state keys ({@link TidemarkClient#getCheckpoint}). */
public final class CheckpointDetail extends CheckpointSummary {
  /** One state key a checkpoint holds. */
  public static final class StateKey {
    private final String key;
    private final long size;
    private final String sha256;
    private final String contentType;
    private final PartitionId partition;

    public StateKey(String key, long size, String sha256, String contentType) {
      this(key, size, sha256, contentType, null);
    }

    /** @param partition the partition of partition-scoped state; null for instance state */
    public StateKey(String key, long size, String sha256, String contentType, PartitionId partition) {
      this.key = key;
      this.size = size;
      this.sha256 = sha256;
      this.contentType = contentType;
      this.partition = partition;
    }

    public String key() {
      return key;
    }

    public long size() {
      return size;
    }

    /** The value's SHA-256, in hex. */
    public String sha256() {
      return sha256;
    }

    public String contentType() {
      return contentType;
    }

    /** The partition of partition-scoped state ({@code key} is relative to it); empty for instance state. */
    public Optional<PartitionId> partition() {
      return Optional.ofNullable(partition);
    }

    @Override
    public String toString() {
      return "StateKey{" + (partition == null ? "" : partition + " ") + key + ", " + size + " bytes, "
          + contentType + "}";
    }
  }

  private final String jobId;
  private final List<Offset> offsets;
  private final List<StateKey> state;

  public CheckpointDetail(CheckpointSummary summary, String jobId, List<Offset> offsets, List<StateKey> state) {
    super(summary.id(), summary.createdAtMs(), summary.trigger(), summary.partitions(), summary.stateKeys(),
        summary.stateBytes());
    this.jobId = jobId;
    this.offsets = List.copyOf(offsets);
    this.state = List.copyOf(state);
  }

  public String jobId() {
    return jobId;
  }

  /** The offsets it holds (leader epoch and metadata as stored; metadata may be null). */
  public List<Offset> offsets() {
    return offsets;
  }

  public List<StateKey> state() {
    return state;
  }
}
