package dev.tidemark.client;

import java.util.List;

/** One retained checkpoint with its offsets and state keys ({@link TidemarkClient#getCheckpoint}). */
public final class CheckpointDetail extends CheckpointSummary {
  /** One state key a checkpoint holds. */
  public static final class StateKey {
    private final String key;
    private final long size;
    private final String sha256;
    private final String contentType;

    public StateKey(String key, long size, String sha256, String contentType) {
      this.key = key;
      this.size = size;
      this.sha256 = sha256;
      this.contentType = contentType;
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

    @Override
    public String toString() {
      return "StateKey{" + key + ", " + size + " bytes, " + contentType + "}";
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
