package dev.tidemark.client;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * tests/conformance/cases.json through the Java client against a real
 * {@code tidemark serve}: one embedded cluster (1 broker, topic demo:6) and one
 * sidecar for all cases, a fresh client per case, as
 * tests/conformance/README.md specifies. Anything in a case this runner does
 * not know (an op, an argument, a check) fails the case rather than being
 * skipped. $TIDEMARK_CONFORMANCE_CASES points it at another cases file.
 */
class ConformanceTest {
  private static Map<String, Object> suite;
  private static Processes.EmbeddedKafka kafka;
  private static Processes.Sidecar sidecar;

  static Path casesPath() {
    String env = System.getenv("TIDEMARK_CONFORMANCE_CASES");
    if (env != null && !env.isEmpty()) return Path.of(env);
    return Processes.repo().resolve("tests/conformance/cases.json");
  }

  static Map<String, Object> loadSuite() throws IOException {
    Path path = casesPath();
    Map<String, Object> s = Json.object(Json.parse(Files.readString(path, UTF_8)), path.toString());
    if (!Long.valueOf(1).equals(s.get("version"))) throw new IllegalStateException(path + ": version is not 1");
    if (Json.list(s, "cases").isEmpty()) throw new IllegalStateException(path + ": no cases");
    return s;
  }

  private static Map<String, Object> sidecarSpec() {
    return Json.object(suite.get("sidecar"), "sidecar");
  }

  private static String token() {
    return Json.string(sidecarSpec(), "token");
  }

  @BeforeAll
  static void start() throws Exception {
    suite = loadSuite();
    Map<String, String> settings = new LinkedHashMap<>();
    Object given = sidecarSpec().get("settings");
    if (given != null) Json.object(given, "settings").forEach((k, v) -> settings.put(k, String.valueOf(v)));
    kafka = new Processes.EmbeddedKafka(1, "demo:6");
    sidecar = new Processes.Sidecar(kafka.bootstrap, settings, token());
  }

  @AfterAll
  static void stop() throws Exception {
    if (sidecar != null) sidecar.close();
    if (kafka != null) kafka.close();
  }

  @TestFactory
  Stream<DynamicTest> cases() {
    return Json.list(suite, "cases").stream().map(c -> {
      Map<String, Object> kase = Json.object(c, "case");
      String name = Json.string(kase, "name");
      return DynamicTest.dynamicTest(name, () -> runCase(kase, sidecar.baseUrl));
    });
  }

  /** Beyond cases.json: the token read from a file (ending in a newline) is accepted by the real sidecar. */
  @Test
  void tokenFileClient() throws IOException {
    Path file = sidecar.workdir.resolve("client-token");
    Files.writeString(file, token() + "\n");
    TidemarkClient c = TidemarkClient.builder().baseUrl(sidecar.baseUrl).tokenFile(file).build();
    String etag = c.putState("java_token_file/k", "v".getBytes(UTF_8));
    State got = c.getState("java_token_file/k", TidemarkClient.View.STAGED).orElseThrow();
    assertEquals("v", got.valueAsString());
    assertEquals(etag, got.etag());
  }

  // ---- the runner ----

  private static final Set<String> CASE_FIELDS = Set.of("name", "about", "steps", "client");

  private static final Map<String, List<String>> OP_ARGS = Map.of(
      "put_state", List.of("key", "value", "value_base64", "value_repeat", "content_type", "if_match", "partition"),
      "get_state", List.of("key", "view", "partition"),
      "delete_state", List.of("key", "if_match", "partition"),
      "list_state", List.of("prefix", "view", "partition"),
      "mark_offsets", List.of("offsets"),
      "commit", List.of("offsets", "put", "delete"),
      "checkpoint", List.of(),
      "checkpoints", List.of(),
      "get_checkpoint", List.of("id"));

  private static final Map<Integer, Class<? extends TidemarkException>> ERROR_CLASS = Map.of(
      400, BadRequestException.class,
      401, UnauthenticatedException.class,
      404, NotFoundException.class,
      409, ConflictException.class,
      413, PayloadTooLargeException.class);

  static TidemarkClient clientFor(Map<String, Object> kase, String baseUrl) {
    Map<String, Object> settings = kase.containsKey("client") ? Json.object(kase.get("client"), "client") : Map.of();
    for (String k : settings.keySet()) {
      if (!k.equals("token")) throw new IllegalArgumentException("unknown client setting " + k);
    }
    String mode = settings.containsKey("token") ? Json.string(settings, "token") : "valid";
    TidemarkClient.Builder b = TidemarkClient.builder().baseUrl(baseUrl);
    switch (mode) {
      case "valid":
        return b.token(token()).build();
      case "none":
        return b.build();
      case "wrong":
        return b.token("wrong-" + token()).build();
      default:
        throw new IllegalArgumentException("unknown client token mode " + mode);
    }
  }

  static void runCase(Map<String, Object> kase, String baseUrl) {
    String name = Json.string(kase, "name");
    for (String k : kase.keySet()) {
      if (!CASE_FIELDS.contains(k)) throw new IllegalArgumentException("case " + name + ": unknown field " + k);
    }
    List<Object> steps = Json.list(kase, "steps");
    if (steps.isEmpty()) throw new IllegalArgumentException("case " + name + ": no steps");
    TidemarkClient client = clientFor(kase, baseUrl);
    Map<String, Object> saved = new HashMap<>();
    for (int i = 0; i < steps.size(); i++) {
      Map<String, Object> step = Json.object(steps.get(i), "step");
      String where = name + " step " + (i + 1) + " (" + step.get("op") + ")";
      try {
        runStep(client, step, saved, where);
      } catch (AssertionError | RuntimeException e) {
        if (e.getMessage() != null && e.getMessage().startsWith(where)) throw e;
        throw new AssertionError(where + ": " + e.getMessage(), e);
      }
    }
  }

  private static final Pattern SAVED = Pattern.compile("^\\$([A-Za-z_][A-Za-z0-9_]*)$");

  /** "$name" strings (at any depth) replaced by what a step saved. */
  static Object substitute(Object v, Map<String, Object> saved, String where) {
    if (v instanceof String) {
      Matcher m = SAVED.matcher((String) v);
      if (!m.matches()) return v;
      if (!saved.containsKey(m.group(1))) throw new IllegalArgumentException(where + ": " + v + " was not saved");
      return saved.get(m.group(1));
    }
    if (v instanceof List) {
      List<Object> out = new ArrayList<>();
      for (Object item : (List<?>) v) out.add(substitute(item, saved, where));
      return out;
    }
    if (v instanceof Map) {
      Map<String, Object> out = new LinkedHashMap<>();
      Json.object(v, where).forEach((k, x) -> out.put(k, substitute(x, saved, where)));
      return out;
    }
    return v;
  }

  /** Bytes of {"value"} (UTF-8 text), {"value_base64"} or {"value_repeat": {"byte", "count"}}: exactly one. */
  static byte[] bytesOf(Map<String, Object> spec, String where) {
    List<String> given = Stream.of("value", "value_base64", "value_repeat").filter(spec::containsKey)
        .collect(Collectors.toList());
    if (given.size() != 1) throw new IllegalArgumentException(where + ": needs exactly one of " + given);
    if (spec.containsKey("value")) return Json.string(spec, "value").getBytes(UTF_8);
    if (spec.containsKey("value_base64")) return Base64.getDecoder().decode(Json.string(spec, "value_base64"));
    Map<String, Object> r = Json.object(spec.get("value_repeat"), "value_repeat");
    for (String k : r.keySet()) {
      if (!k.equals("byte") && !k.equals("count")) throw new IllegalArgumentException(where + ": value_repeat." + k);
    }
    byte b;
    if (r.get("byte") instanceof String) {
      byte[] one = Json.string(r, "byte").getBytes(UTF_8);
      if (one.length != 1) throw new IllegalArgumentException(where + ": value_repeat.byte must be one byte");
      b = one[0];
    } else {
      b = (byte) Json.int32(r, "byte");
    }
    byte[] out = new byte[Json.int32(r, "count")];
    Arrays.fill(out, b);
    return out;
  }

  static List<Offset> offsetsOf(Object v, String where) {
    List<Offset> out = new ArrayList<>();
    for (Object o : Json.array(v, where + ": offsets")) {
      Map<String, Object> m = Json.object(o, where + ": offset");
      for (String k : m.keySet()) {
        if (!List.of("group", "topic", "partition", "offset", "leader_epoch", "metadata").contains(k)) {
          throw new IllegalArgumentException(where + ": unknown offset field " + k);
        }
      }
      out.add(new Offset(Json.string(m, "group"), Json.string(m, "topic"), Json.int32(m, "partition"),
          Json.integer(m, "offset"), m.get("leader_epoch") == null ? null : Json.int32(m, "leader_epoch"),
          Json.optString(m, "metadata")));
    }
    return out;
  }

  private static TidemarkClient.View viewOf(Map<String, Object> args) {
    String v = Json.optString(args, "view");
    if (v == null) return null;
    switch (v) {
      case "sealed":
        return TidemarkClient.View.SEALED;
      case "staged":
        return TidemarkClient.View.STAGED;
      default:
        throw new IllegalArgumentException("unknown view " + v);
    }
  }

  /** The partition scope of a step with a "partition": {group, topic, partition} argument; else null. */
  private static PartitionState scopeOf(TidemarkClient c, Map<String, Object> a, String where) {
    if (!a.containsKey("partition")) return null;
    Map<String, Object> p = Json.object(a.get("partition"), "partition");
    if (!Set.of("group", "topic", "partition").equals(p.keySet())) {
      throw new IllegalArgumentException(where + ": partition needs exactly group, topic, partition: " + p);
    }
    return c.partition(Json.string(p, "group"), Json.string(p, "topic"), Json.int32(p, "partition"));
  }

  /** Runs `op` through the client's API; the result (null for delete_state). */
  static Object call(TidemarkClient c, String op, Map<String, Object> a, String where) {
    PartitionState scope = scopeOf(c, a, where);
    if (scope != null) {
      switch (op) {
        case "put_state":
          return scope.putState(Json.string(a, "key"), bytesOf(a, where), Json.optString(a, "content_type"),
              Json.optString(a, "if_match"));
        case "get_state":
          return scope.getState(Json.string(a, "key"), viewOf(a));
        case "delete_state":
          scope.deleteState(Json.string(a, "key"), Json.optString(a, "if_match"));
          return null;
        case "list_state":
          return scope.listState(Json.optString(a, "prefix"), viewOf(a));
        default:
          throw new IllegalArgumentException(where + ": " + op + " takes no partition");
      }
    }
    switch (op) {
      case "put_state":
        return c.putState(Json.string(a, "key"), bytesOf(a, where), Json.optString(a, "content_type"),
            Json.optString(a, "if_match"));
      case "get_state":
        return c.getState(Json.string(a, "key"), viewOf(a));
      case "delete_state":
        c.deleteState(Json.string(a, "key"), Json.optString(a, "if_match"));
        return null;
      case "list_state":
        return c.listState(Json.optString(a, "prefix"), viewOf(a));
      case "mark_offsets":
        return c.markOffsets(offsetsOf(Json.member(a, "offsets"), where));
      case "commit": {
        Map<String, byte[]> put = new LinkedHashMap<>();
        if (a.containsKey("put")) {
          Json.object(a.get("put"), "put").forEach((k, v) -> put.put(k, v instanceof String
              ? ((String) v).getBytes(UTF_8) : bytesOf(Json.object(v, "put " + k), where + ": put " + k)));
        }
        List<String> delete = new ArrayList<>();
        if (a.containsKey("delete")) {
          for (Object k : Json.array(a.get("delete"), "delete")) delete.add((String) k);
        }
        return c.commit(a.containsKey("offsets") ? offsetsOf(a.get("offsets"), where) : List.of(), put, delete);
      }
      case "checkpoint":
        return c.checkpoint();
      case "checkpoints":
        return c.checkpoints();
      case "get_checkpoint":
        return c.getCheckpoint(Json.string(a, "id"));
      default:
        throw new IllegalArgumentException(where + ": unknown op " + op);
    }
  }

  /** The result's state, for the value checks: it must be there. */
  @SuppressWarnings("unchecked")
  private static State state(Object result) {
    Optional<State> s = (Optional<State>) result;
    assertTrue(s.isPresent(), "get_state found nothing");
    return s.get();
  }

  private static String etagOf(String op, Object result) {
    if (op.equals("put_state")) return (String) result;
    if (op.equals("get_state")) return state(result).etag();
    throw new IllegalArgumentException(op + " has no ETag");
  }

  private static void check(String op, Object result, String name, Object want, String where) {
    switch (name) {
      case "value":
        assertEquals((String) want, state(result).valueAsString());
        assertArrayEquals(((String) want).getBytes(UTF_8), state(result).value());
        break;
      case "value_base64":
        assertEquals((String) want, Base64.getEncoder().encodeToString(state(result).value()));
        break;
      case "value_repeat": {
        Map<String, Object> spec = new HashMap<>();
        spec.put("value_repeat", want);
        assertArrayEquals(bytesOf(spec, where), state(result).value());
        break;
      }
      case "content_type":
        assertEquals(want, state(result).contentType());
        break;
      case "etag":
        assertEquals(want, etagOf(op, result));
        break;
      case "absent": {
        Optional<?> o = (Optional<?>) result;
        if (Boolean.TRUE.equals(want)) {
          assertTrue(o.isEmpty(), "expected nothing, got " + o);
        } else {
          assertTrue(o.isPresent(), "expected a value");
        }
        break;
      }
      case "keys": {
        @SuppressWarnings("unchecked")
        List<StateEntry> entries = (List<StateEntry>) result;
        assertEquals(want, entries.stream().map(StateEntry::key).collect(Collectors.toList()));
        break;
      }
      case "partitions":
        assertEquals(((Long) want).intValue(), ((SealResult) result).partitions());
        break;
      case "count_at_least": {
        int n = ((List<?>) result).size();
        assertTrue(n >= (Long) want, n + " < " + want);
        break;
      }
      case "trigger":
        assertEquals(want, ((CheckpointSummary) result).trigger());
        break;
      case "partition_entry": {
        Map<String, Object> w = Json.object(want, "partition_entry");
        if (!Set.of("key", "group", "topic", "partition").equals(w.keySet())) {
          throw new IllegalArgumentException(where + ": partition_entry needs key, group, topic, partition: " + w);
        }
        PartitionId id = new PartitionId(Json.string(w, "group"), Json.string(w, "topic"), Json.int32(w, "partition"));
        List<CheckpointDetail.StateKey> state = ((CheckpointDetail) result).state();
        assertTrue(state.stream().anyMatch(k -> k.key().equals(Json.string(w, "key"))
            && k.partition().equals(Optional.of(id))), "no state entry " + w + " in " + state);
        break;
      }
      default:
        throw new IllegalArgumentException(where + ": unknown check " + name);
    }
  }

  /** The shape of every op's successful result, whatever the case checks. */
  private static void checkShape(String op, Object result) {
    switch (op) {
      case "put_state":
        assertTrue(result instanceof String && !((String) result).isEmpty(), "put_state answers an ETag");
        break;
      case "get_state":
        assertTrue(result instanceof Optional, "get_state answers an Optional");
        ((Optional<?>) result).ifPresent(s -> assertNotNull(((State) s).etag()));
        break;
      case "checkpoint":
        assertTrue(result instanceof String, "checkpoint answers an id");
        break;
      case "mark_offsets":
      case "commit":
        assertTrue(result instanceof SealResult);
        break;
      default:
        break;
    }
  }

  static void runStep(TidemarkClient client, Map<String, Object> step, Map<String, Object> saved, String where) {
    String op = Json.string(step, "op");
    List<String> allowed = OP_ARGS.get(op);
    if (allowed == null) throw new IllegalArgumentException(where + ": unknown op " + op);
    if (!(step.get("expect") instanceof Map)) throw new IllegalArgumentException(where + ": no expect");
    Map<String, Object> expect = Json.object(step.get("expect"), "expect");
    Map<String, Object> raw = new LinkedHashMap<>(step);
    raw.remove("op");
    raw.remove("expect");
    for (String k : raw.keySet()) {
      if (!allowed.contains(k)) throw new IllegalArgumentException(where + ": " + op + " takes no " + k);
    }
    Map<String, Object> args = Json.object(substitute(raw, saved, where), where);

    if (expect.containsKey("error")) {
      if (expect.size() != 1) throw new IllegalArgumentException(where + ": an error expectation takes nothing else");
      Map<String, Object> err = Json.object(expect.get("error"), "error");
      for (String k : err.keySet()) {
        if (!k.equals("status") && !k.equals("code")) throw new IllegalArgumentException(where + ": error." + k);
      }
      int status = Json.int32(err, "status");
      String code = Json.string(err, "code");
      Object result;
      try {
        result = call(client, op, args, where);
      } catch (TidemarkException e) {
        assertEquals(status, e.status(), "status of " + e.getMessage());
        assertEquals(code, e.code(), "code of " + e.getMessage());
        Class<? extends TidemarkException> expected = ERROR_CLASS.get(status);
        if (expected != null) {
          assertTrue(expected.isInstance(e), e.getClass().getSimpleName() + " is not a " + expected.getSimpleName());
        }
        return;
      }
      fail("expected error " + status + " " + code + ", got " + result);
    }

    Object result = call(client, op, args, where);
    checkShape(op, result);
    for (Map.Entry<String, Object> e : expect.entrySet()) {
      if (e.getKey().equals("save")) continue;
      check(op, result, e.getKey(), substitute(e.getValue(), saved, where), where);
    }
    if (expect.containsKey("save")) {
      for (Map.Entry<String, Object> e : Json.object(expect.get("save"), "save").entrySet()) {
        String name = (String) e.getValue();
        switch (e.getKey()) {
          case "etag":
            saved.put(name, Objects.requireNonNull(etagOf(op, result), "no ETag to save"));
            break;
          case "id":
            assertEquals("checkpoint", op, "only checkpoint saves an id");
            saved.put(name, result);
            break;
          default:
            throw new IllegalArgumentException(where + ": unknown save " + e.getKey());
        }
      }
    }
  }
}
