package dev.tidemark.client;

import java.util.Objects;

/**
 * A consumer group's offset in one partition: the next message to process.
 * {@code leaderEpoch} and {@code metadata} are optional (null). Values are
 * sent as they are; the sidecar validates them (400 {@code invalid_offsets}).
 */
public final class Offset {
  private final String group;
  private final String topic;
  private final int partition;
  private final long offset;
  private final Integer leaderEpoch;
  private final String metadata;

  public Offset(String group, String topic, int partition, long offset, Integer leaderEpoch, String metadata) {
    this.group = Objects.requireNonNull(group, "group");
    this.topic = Objects.requireNonNull(topic, "topic");
    this.partition = partition;
    this.offset = offset;
    this.leaderEpoch = leaderEpoch;
    this.metadata = metadata;
  }

  public static Offset of(String group, String topic, int partition, long offset) {
    return new Offset(group, topic, partition, offset, null, null);
  }

  public Offset withLeaderEpoch(Integer epoch) {
    return new Offset(group, topic, partition, offset, epoch, metadata);
  }

  public Offset withMetadata(String text) {
    return new Offset(group, topic, partition, offset, leaderEpoch, text);
  }

  public String group() {
    return group;
  }

  public String topic() {
    return topic;
  }

  public int partition() {
    return partition;
  }

  public long offset() {
    return offset;
  }

  /** Null when not given. */
  public Integer leaderEpoch() {
    return leaderEpoch;
  }

  /** Null when not given. */
  public String metadata() {
    return metadata;
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof Offset)) return false;
    Offset x = (Offset) o;
    return group.equals(x.group) && topic.equals(x.topic) && partition == x.partition && offset == x.offset
        && Objects.equals(leaderEpoch, x.leaderEpoch) && Objects.equals(metadata, x.metadata);
  }

  @Override
  public int hashCode() {
    return Objects.hash(group, topic, partition, offset, leaderEpoch, metadata);
  }

  @Override
  public String toString() {
    return "Offset{" + group + " " + topic + "/" + partition + "@" + offset
        + (leaderEpoch == null ? "" : " epoch " + leaderEpoch)
        + (metadata == null ? "" : " metadata " + metadata) + "}";
  }
}
