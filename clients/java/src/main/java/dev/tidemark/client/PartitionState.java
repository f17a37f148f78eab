package dev.tidemark.client;

import java.util.List;
import java.util.Optional;

/**
 * The state of one partition of one consumer group ({@link TidemarkClient#partition}): the
 * client's state calls, scoped to the partition, over the client's connection. Keys are separate
 * from the instance keys and from every other partition's. Cheap to create; thread-safe as the
 * client is.
 */
public final class PartitionState {
  private final TidemarkClient client;
  private final PartitionId id;
  private final String base;

  PartitionState(TidemarkClient client, PartitionId id) {
    this.client = client;
    this.id = id;
    this.base = TidemarkClient.partitionBase(id);
  }

  /** The partition this scope addresses. */
  public PartitionId id() {
    return id;
  }

  /** As {@link TidemarkClient#putState(String, byte[])}, in this partition's scope. */
  public String putState(String key, byte[] value) {
    return putState(key, value, null, null);
  }

  /** As {@link TidemarkClient#putState(String, byte[], String, String)}, in this partition's scope. */
  public String putState(String key, byte[] value, String contentType, String ifMatch) {
    return client.putState(base, key, value, contentType, ifMatch);
  }

  /** As {@link TidemarkClient#getState(String)}, in this partition's scope. */
  public Optional<State> getState(String key) {
    return getState(key, null);
  }

  /** As {@link TidemarkClient#getState(String, TidemarkClient.View)}, in this partition's scope. */
  public Optional<State> getState(String key, TidemarkClient.View view) {
    return client.getState(base, key, view);
  }

  /** As {@link TidemarkClient#deleteState(String)}, in this partition's scope. */
  public void deleteState(String key) {
    deleteState(key, null);
  }

  /** As {@link TidemarkClient#deleteState(String, String)}, in this partition's scope. */
  public void deleteState(String key, String ifMatch) {
    client.deleteState(base, key, ifMatch);
  }

  /** This partition's keys in the sealed view (as given to putState), in key order. */
  public List<StateEntry> listState() {
    return listState(null, null);
  }

  /** This partition's keys starting with {@code prefix} (null: all) in {@code view} (null: sealed). */
  public List<StateEntry> listState(String prefix, TidemarkClient.View view) {
    return client.listState(base, prefix, view);
  }

  @Override
  public String toString() {
    return "PartitionState{" + id + "}";
  }
}
