package dev.tidemark.client;

/** The answer to {@link TidemarkClient#markOffsets} and {@link TidemarkClient#commit}. */
public final class SealResult {
  private final long seal;
  private final int partitions;

  public SealResult(long seal, int partitions) {
    this.seal = seal;
    this.partitions = partitions;
  }

  /** How many seals produced the sealed view. */
  public long seal() {
    return seal;
  }

  /** How many partitions the request carried offsets for. */
  public int partitions() {
    return partitions;
  }

  @Override
  public String toString() {
    return "SealResult{seal=" + seal + ", partitions=" + partitions + "}";
  }
}
