package dev.tidemark.client;

import java.util.Objects;

/** One partition of one consumer group: the scope of partition-scoped state. */
public final class PartitionId {
  private final String group;
  private final String topic;
  private final int partition;

  public PartitionId(String group, String topic, int partition) {
    this.group = Objects.requireNonNull(group, "group");
    this.topic = Objects.requireNonNull(topic, "topic");
    this.partition = partition;
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

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof PartitionId)) return false;
    PartitionId p = (PartitionId) o;
    return group.equals(p.group) && topic.equals(p.topic) && partition == p.partition;
  }

  @Override
  public int hashCode() {
    return Objects.hash(group, topic, partition);
  }

  @Override
  public String toString() {
    return group + "/" + topic + "/" + partition;
  }
}
