package dev.tidemark.client;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Client for the Tidemark sidecar's local HTTP API: application state,
 * offsets and checkpoints. Uses {@code java.net.http} only; thread-safe.
 *
 * <pre>{@code
 * TidemarkClient tm = TidemarkClient.builder().tokenFile(Path.of("/var/run/secrets/tidemark/token")).build();
 * String etag = tm.putState("counts/word", "42".getBytes(UTF_8), "text/plain", null);
 * tm.markOffsets(List.of(Offset.of("wc", "words", 0, 10)));   // seals it
 * Optional<State> s = tm.getState("counts/word");                // sealed view
 * }</pre>
 *
 * <p>Every failure is a {@link TidemarkException} (unchecked): the sidecar's
 * error answers as {@link BadRequestException} (400), {@link
 * UnauthenticatedException} (401), {@link NotFoundException} (404), {@link
 * ConflictException} (409), {@link PayloadTooLargeException} (413) or the base
 * class for other statuses; no answer at all as {@link TransportException}.
 */
public final class TidemarkClient {
  public static final String DEFAULT_BASE_URL = "http://127.0.0.1:8770";
  private static final String INSTANCE_STATE = "/v1/state";
  /** Above the sidecar's default checkpoint.timeout (60s): checkpoint() answers once durable. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(90);

  /** Which state a read sees. */
  public enum View {
    /** What a checkpoint persists: writes sealed by an offset commit (the default). */
    SEALED,
    /** Every write, sealed or not. */
    STAGED;

    String param() {
      return this == SEALED ? "sealed" : "staged";
    }
  }

  private final String baseUrl;
  private final String token;
  private final Path tokenFile;
  private final Duration timeout;
  private final HttpClient http;

  private TidemarkClient(Builder b) {
    this.baseUrl = b.baseUrl;
    this.token = b.token;
    this.tokenFile = b.tokenFile;
    this.timeout = b.timeout;
    this.http = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1) // no h2c upgrade attempt
        .connectTimeout(b.timeout)
        .followRedirects(HttpClient.Redirect.NEVER)
        .build();
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Options of a {@link TidemarkClient}. */
  public static final class Builder {
    private String baseUrl = DEFAULT_BASE_URL;
    private String token;
    private Path tokenFile;
    private Duration timeout = DEFAULT_TIMEOUT;

    private Builder() {}

    /** The sidecar's http.listen as a URL; default {@value TidemarkClient#DEFAULT_BASE_URL}. */
    public Builder baseUrl(String url) {
      this.baseUrl = Objects.requireNonNull(url, "baseUrl");
      return this;
    }

    /** The bearer token (the content of the sidecar's http.token_file). */
    public Builder token(String token) {
      this.token = token;
      return this;
    }

    /**
     * A file holding the token, read for every request (so a rotated Secret
     * takes effect), without trailing newlines and spaces as the sidecar reads it.
     */
    public Builder tokenFile(Path file) {
      this.tokenFile = file;
      return this;
    }

    /** Per request (and for connecting); default 90 seconds. */
    public Builder timeout(Duration timeout) {
      this.timeout = Objects.requireNonNull(timeout, "timeout");
      return this;
    }

    public TidemarkClient build() {
      if (token != null && tokenFile != null) throw new IllegalArgumentException("give token or tokenFile, not both");
      if (token != null && token.isEmpty()) throw new IllegalArgumentException("token must not be empty");
      if (timeout.isNegative() || timeout.isZero()) throw new IllegalArgumentException("timeout must be positive");
      URI uri;
      try {
        uri = new URI(baseUrl);
      } catch (URISyntaxException e) {
        throw new IllegalArgumentException("baseUrl: " + e.getMessage(), e);
      }
      if ((!"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme())) || uri.getHost() == null) {
        throw new IllegalArgumentException("baseUrl must be http://host:port or https://..., got " + baseUrl);
      }
      baseUrl = baseUrl.replaceAll("/+$", "");
      return new TidemarkClient(this);
    }
  }

  public String baseUrl() {
    return baseUrl;
  }

  // ---- state ----

  /** {@link #putState(String, byte[], String, String)} without content type or If-Match. */
  public String putState(String key, byte[] value) {
    return putState(key, value, null, null);
  }

  /**
   * Stages {@code value} under {@code key}; answers the new ETag.
   *
   * @param contentType stored with the value; null: {@code application/octet-stream}
   * @param ifMatch null, or the ETag the current value must have ({@link ConflictException} otherwise)
   */
  public String putState(String key, byte[] value, String contentType, String ifMatch) {
    return putState(INSTANCE_STATE, key, value, contentType, ifMatch);
  }

  String putState(String base, String key, byte[] value, String contentType, String ifMatch) {
    Objects.requireNonNull(value, "value");
    HttpResponse<byte[]> r = send("PUT", base + "/" + encodeKey(key), value,
        contentType == null ? "application/octet-stream" : contentType, ifMatch);
    return r.headers().firstValue("etag").orElse(null);
  }

  /** The value under {@code key} in the sealed view; empty when there is none. */
  public Optional<State> getState(String key) {
    return getState(key, null);
  }

  /** The value under {@code key} in {@code view} (null: the sealed view); empty when there is none. */
  public Optional<State> getState(String key, View view) {
    return getState(INSTANCE_STATE, key, view);
  }

  Optional<State> getState(String base, String key, View view) {
    String path = base + "/" + encodeKey(key) + (view == null ? "" : "?view=" + view.param());
    HttpResponse<byte[]> r;
    try {
      r = send("GET", path, null, null, null);
    } catch (NotFoundException e) {
      if ("not_found".equals(e.code())) return Optional.empty();
      throw e;
    }
    return Optional.of(new State(r.body(), r.headers().firstValue("content-type").orElse(null),
        r.headers().firstValue("etag").orElse(null)));
  }

  /** Deletes {@code key} (staged until the next seal); {@link NotFoundException} when it has no value. */
  public void deleteState(String key) {
    deleteState(key, null);
  }

  /** Deletes {@code key}; with {@code ifMatch}, only while its ETag is that one. */
  public void deleteState(String key, String ifMatch) {
    deleteState(INSTANCE_STATE, key, ifMatch);
  }

  void deleteState(String base, String key, String ifMatch) {
    send("DELETE", base + "/" + encodeKey(key), null, null, ifMatch);
  }

  /** Every instance key in the sealed view, in key order (partition-scoped keys: {@link #partition}). */
  public List<StateEntry> listState() {
    return listState(null, null);
  }

  /** Keys starting with {@code prefix} (null: all) in {@code view} (null: sealed), in key order. */
  public List<StateEntry> listState(String prefix, View view) {
    return listState(INSTANCE_STATE, prefix, view);
  }

  List<StateEntry> listState(String base, String prefix, View view) {
    StringBuilder q = new StringBuilder();
    if (prefix != null) q.append("prefix=").append(encodeComponent(prefix));
    if (view != null) q.append(q.length() > 0 ? "&" : "").append("view=").append(view.param());
    String path = base + (q.length() > 0 ? "?" + q : "");
    return call("GET", path, null, doc -> {
      List<StateEntry> out = new ArrayList<>();
      for (Object o : Json.list(Json.object(doc, "answer"), "keys")) {
        Map<String, Object> e = Json.object(o, "keys[]");
        out.add(new StateEntry(Json.string(e, "key"), Json.integer(e, "size"), Json.optString(e, "etag")));
      }
      return List.copyOf(out);
    });
  }

  /**
   * The partition-scoped state of one partition of one consumer group: the same
   * putState/getState/deleteState/listState (same arguments, results and errors), on keys
   * separate from the instance keys and from every other partition's. A bad group, topic or
   * partition is a {@link BadRequestException} (400 {@code invalid_partition}) from the sidecar
   * when a call is made.
   */
  public PartitionState partition(String group, String topic, int partition) {
    return new PartitionState(this, new PartitionId(group, topic, partition));
  }

  /** The URL path of a partition's state: group and topic each one percent-encoded segment. */
  static String partitionBase(PartitionId p) {
    return "/v1/groups/" + encodeComponent(p.group()) + "/topics/" + encodeComponent(p.topic())
        + "/partitions/" + p.partition() + "/state";
  }

  // ---- offsets and commits ----

  /** Marks offsets processed, sealing every staged write together with them. */
  public SealResult markOffsets(List<Offset> offsets) {
    return call("POST", "/v1/offsets", offsetsDocument(offsets), TidemarkClient::sealResult);
  }

  /**
   * Offsets and state changes in one request, sealed together. Values travel
   * base64-encoded and are stored as {@code application/octet-stream}.
   *
   * @param offsets null or empty: none
   * @param put key to value; null: none
   * @param delete keys to delete; null: none
   */
  public SealResult commit(List<Offset> offsets, Map<String, byte[]> put, List<String> delete) {
    Map<String, Object> puts = new LinkedHashMap<>();
    if (put != null) {
      Base64.Encoder b64 = Base64.getEncoder();
      for (Map.Entry<String, byte[]> e : put.entrySet()) {
        puts.put(Objects.requireNonNull(e.getKey(), "put key"),
            b64.encodeToString(Objects.requireNonNull(e.getValue(), "put value")));
      }
    }
    Map<String, Object> state = new LinkedHashMap<>();
    state.put("put", puts);
    state.put("delete", delete == null ? List.of() : new ArrayList<Object>(delete));
    Map<String, Object> doc = new LinkedHashMap<>();
    doc.put("offsets", offsetsDocument(offsets == null ? List.of() : offsets));
    doc.put("state", state);
    return call("POST", "/v1/commit", doc, TidemarkClient::sealResult);
  }

  // ---- checkpoints ----

  /** Takes a checkpoint now; answers its id once it is durable. */
  public String checkpoint() {
    return call("POST", "/v1/checkpoints", null,
        doc -> Json.string(Json.object(doc, "answer"), "id"));
  }

  /** The retained checkpoints. */
  public List<CheckpointSummary> checkpoints() {
    return call("GET", "/v1/checkpoints", null, doc -> {
      List<CheckpointSummary> out = new ArrayList<>();
      for (Object o : Json.list(Json.object(doc, "answer"), "checkpoints")) {
        out.add(summary(Json.object(o, "checkpoints[]")));
      }
      return List.copyOf(out);
    });
  }

  /** One retained checkpoint; {@link NotFoundException} when it is not retained. */
  public CheckpointDetail getCheckpoint(String id) {
    String path = "/v1/checkpoints/" + encodeComponent(Objects.requireNonNull(id, "id"));
    return call("GET", path, null, doc -> {
      Map<String, Object> m = Json.object(doc, "answer");
      List<Offset> offsets = new ArrayList<>();
      for (Object o : Json.list(m, "offsets")) {
        Map<String, Object> e = Json.object(o, "offsets[]");
        offsets.add(new Offset(Json.string(e, "group"), Json.string(e, "topic"), Json.int32(e, "partition"),
            Json.integer(e, "offset"), e.get("leader_epoch") == null ? null : Json.int32(e, "leader_epoch"),
            Json.optString(e, "metadata")));
      }
      List<CheckpointDetail.StateKey> state = new ArrayList<>();
      for (Object o : Json.list(m, "state")) {
        Map<String, Object> e = Json.object(o, "state[]");
        PartitionId partition = null;
        if (e.get("partition") != null) {
          Map<String, Object> p = Json.object(e.get("partition"), "state[].partition");
          partition = new PartitionId(Json.string(p, "group"), Json.string(p, "topic"), Json.int32(p, "partition"));
        }
        state.add(new CheckpointDetail.StateKey(Json.string(e, "key"), Json.integer(e, "size"),
            Json.optString(e, "sha256"), Json.optString(e, "content_type"), partition));
      }
      return new CheckpointDetail(summary(m), Json.optString(m, "job_id"), offsets, state);
    });
  }

  // ---- encoding ----

  /**
   * A state key as a URL path: each {@code /}-separated segment
   * percent-encoded ({@link #encodeComponent}), joined by {@code /}.
   */
  static String encodeKey(String key) {
    Objects.requireNonNull(key, "key");
    String[] segments = key.split("/", -1);
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < segments.length; i++) {
      if (i > 0) out.append('/');
      out.append(encodeComponent(segments[i]));
    }
    return out.toString();
  }

  /** UTF-8 percent-encoding of everything but RFC 3986's unreserved characters (A-Z a-z 0-9 - . _ ~). */
  static String encodeComponent(String s) {
    byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
    StringBuilder out = new StringBuilder(bytes.length);
    for (byte b : bytes) {
      int c = b & 0xff;
      if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'
          || c == '_' || c == '~') {
        out.append((char) c);
      } else {
        out.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
            .append(Character.toUpperCase(Character.forDigit(c & 15, 16)));
      }
    }
    return out.toString();
  }

  private static List<Object> offsetsDocument(List<Offset> offsets) {
    Objects.requireNonNull(offsets, "offsets");
    List<Object> out = new ArrayList<>();
    for (Offset o : offsets) {
      Map<String, Object> e = new LinkedHashMap<>();
      e.put("group", o.group());
      e.put("topic", o.topic());
      e.put("partition", o.partition());
      e.put("offset", o.offset());
      if (o.leaderEpoch() != null) e.put("leader_epoch", o.leaderEpoch());
      if (o.metadata() != null) e.put("metadata", o.metadata());
      out.add(e);
    }
    return out;
  }

  private static SealResult sealResult(Object doc) {
    Map<String, Object> m = Json.object(doc, "answer");
    return new SealResult(Json.integer(m, "seal"), Json.int32(m, "partitions"));
  }

  private static CheckpointSummary summary(Map<String, Object> m) {
    return new CheckpointSummary(Json.string(m, "id"), Json.integer(m, "created_at_ms"),
        Json.string(m, "trigger"), Json.int32(m, "partitions"), Json.int32(m, "state_keys"),
        Json.integer(m, "state_bytes"));
  }

  // ---- transport ----

  private interface Decoder<T> {
    T apply(Object document);
  }

  // Sends `document` (null: no body) as JSON and decodes the JSON answer.
  private <T> T call(String method, String path, Object document, Decoder<T> decoder) {
    byte[] body = document == null ? null : Json.write(document).getBytes(StandardCharsets.UTF_8);
    HttpResponse<byte[]> r = send(method, path, body, document == null ? null : "application/json", null);
    try {
      return decoder.apply(Json.parse(new String(r.body(), StandardCharsets.UTF_8)));
    } catch (Json.JsonException e) {
      throw new TidemarkException(method + " " + path + ": unexpected answer: " + e.getMessage(), r.statusCode(),
          "malformed_answer", e);
    }
  }

  private String currentToken() {
    if (tokenFile == null) return token;
    String text;
    try {
      text = Files.readString(tokenFile, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new TidemarkException("tokenFile " + tokenFile + ": " + e, 0, "token_file", e);
    }
    int end = text.length();
    while (end > 0 && (text.charAt(end - 1) == '\n' || text.charAt(end - 1) == '\r' || text.charAt(end - 1) == ' ')) {
      end--;
    }
    if (end == 0) throw new TidemarkException("tokenFile " + tokenFile + " is empty", 0, "token_file");
    return text.substring(0, end);
  }

  private HttpResponse<byte[]> send(String method, String path, byte[] body, String contentType, String ifMatch) {
    String what = method + " " + path;
    HttpRequest.Builder b;
    try {
      b = HttpRequest.newBuilder(new URI(baseUrl + path));
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException(what + ": " + e.getMessage(), e);
    }
    b.timeout(timeout);
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
    if (contentType != null) b.header("Content-Type", contentType);
    if (ifMatch != null) b.header("If-Match", ifMatch);
    String t = currentToken();
    if (t != null) b.header("Authorization", "Bearer " + t);
    HttpResponse<byte[]> r;
    try {
      r = http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    } catch (HttpTimeoutException e) {
      throw new TransportException(what + ": no answer within " + timeout.toMillis() + " ms", "timeout", e);
    } catch (IOException e) {
      throw new TransportException(what + ": " + e, "transport", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new TransportException(what + ": interrupted", "interrupted", e);
    }
    if (r.statusCode() < 200 || r.statusCode() > 299) throw Errors.fromResponse(r.statusCode(), r.body(), what);
    return r;
  }
}
