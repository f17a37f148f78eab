package dev.tidemark.client;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Key encoding, error mapping, and what the client puts on the wire, against a stand-in server. */
class ClientTest {
  /** One request the stand-in server received. */
  static final class Seen {
    final String method;
    final String target; // raw path and query, as sent
    final Map<String, String> headers = new LinkedHashMap<>(); // lower-case names
    final byte[] body;

    Seen(String method, String target, byte[] body) {
      this.method = method;
      this.target = target;
      this.body = body;
    }

    String header(String name) {
      return headers.get(name);
    }
  }

  /** What the stand-in answers: status, headers, body; a negative status: answer after 2s. */
  static final class Answer {
    final int status;
    final Map<String, String> headers;
    final byte[] body;

    Answer(int status, Map<String, String> headers, String body) {
      this.status = status;
      this.headers = headers;
      this.body = body.getBytes(UTF_8);
    }
  }

  static Answer answer(int status, String body, String... headers) {
    Map<String, String> h = new LinkedHashMap<>();
    for (int i = 0; i + 1 < headers.length; i += 2) h.put(headers[i], headers[i + 1]);
    return new Answer(status, h, body);
  }

  static Answer json(int status, String body) {
    return answer(status, body, "Content-Type", "application/json");
  }

  static Answer apiError(int status, String code) {
    return json(status, "{\"error\":{\"code\":\"" + code + "\",\"message\":\"" + code + "!\"}}");
  }

  private static HttpServer server;
  private static ExecutorService executor;
  private static String baseUrl;
  private static final List<Seen> requests = new CopyOnWriteArrayList<>();
  private static volatile Function<Seen, Answer> responder;

  @BeforeAll
  static void startServer() throws IOException {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    executor = Executors.newCachedThreadPool();
    server.setExecutor(executor);
    server.createContext("/", exchange -> {
      String target = exchange.getRequestURI().getRawPath()
          + (exchange.getRequestURI().getRawQuery() == null ? "" : "?" + exchange.getRequestURI().getRawQuery());
      Seen seen = new Seen(exchange.getRequestMethod(), target, exchange.getRequestBody().readAllBytes());
      exchange.getRequestHeaders().forEach((k, v) -> seen.headers.put(k.toLowerCase(), v.get(0)));
      requests.add(seen);
      Answer a = responder.apply(seen);
      try {
        if (a.status < 0) Thread.sleep(2000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      int status = Math.abs(a.status);
      a.headers.forEach((k, v) -> exchange.getResponseHeaders().add(k, v));
      boolean empty = status == 204 || a.body.length == 0;
      exchange.sendResponseHeaders(status, empty ? -1 : a.body.length);
      if (!empty) exchange.getResponseBody().write(a.body);
      exchange.close();
    });
    server.start();
    baseUrl = "http://127.0.0.1:" + server.getAddress().getPort();
  }

  @AfterAll
  static void stopServer() {
    server.stop(0);
    executor.shutdownNow();
  }

  @BeforeEach
  void reset() {
    requests.clear();
    responder = seen -> answer(204, "");
  }

  private static TidemarkClient client() {
    return TidemarkClient.builder().baseUrl(baseUrl).build();
  }

  // ---- encoding ----

  @Test
  void keysArePercentEncodedPerSegment() {
    assertEquals("a/b", TidemarkClient.encodeKey("a/b"));
    assertEquals("reserved/a%3Ab%40c/d%3De%2Bf~g", TidemarkClient.encodeKey("reserved/a:b@c/d=e+f~g"));
    assertEquals("sp%20ace/x%25y", TidemarkClient.encodeKey("sp ace/x%y"));
    assertEquals("%C3%BC/%E2%82%AC/%F0%9F%98%80", TidemarkClient.encodeKey("ü/€/😀"));
    assertEquals("a..b/.c/../.", TidemarkClient.encodeKey("a..b/.c/../."));
    assertEquals("a%3Fb%23c/%21%2A%27%28%29", TidemarkClient.encodeKey("a?b#c/!*'()"));
    assertEquals("a//b/", TidemarkClient.encodeKey("a//b/"));
    assertEquals("", TidemarkClient.encodeKey(""));
  }

  // ---- error mapping ----

  @Test
  void errorsMapToTheirClasses() {
    Object[][] cases = {
      {400, "invalid_key", BadRequestException.class},
      {401, "unauthenticated", UnauthenticatedException.class},
      {404, "not_found", NotFoundException.class},
      {409, "precondition_failed", ConflictException.class},
      {413, "payload_too_large", PayloadTooLargeException.class},
      {503, "unavailable", TidemarkException.class},
      {504, "checkpoint_timeout", TidemarkException.class},
    };
    for (Object[] c : cases) {
      int status = (Integer) c[0];
      String code = (String) c[1];
      String body = "{\"error\":{\"code\":\"" + code + "\",\"message\":\"why\"}}";
      TidemarkException e = Errors.fromResponse(status, body.getBytes(UTF_8), "GET /x");
      assertEquals(c[2], e.getClass());
      assertEquals(status, e.status());
      assertEquals(code, e.code());
      assertEquals("GET /x: " + status + " " + code + ": why", e.getMessage());
      assertFalse(e instanceof TransportException);
    }
  }

  @Test
  void aBodyThatIsNotTheApiErrorGivesHttpStatusCode() {
    for (String text : new String[] {"<html>bad gateway</html>", "", "{\"error\": 3}", "[1]", "null",
        "{\"error\":{\"code\":\"\"}}"}) {
      TidemarkException e = Errors.fromResponse(502, text.getBytes(UTF_8), null);
      assertEquals(TidemarkException.class, e.getClass());
      assertEquals(502, e.status());
      assertEquals("http_502", e.code());
    }
    assertEquals(NotFoundException.class, Errors.fromResponse(404, "nope".getBytes(UTF_8), null).getClass());
  }

  // ---- on the wire ----

  @Test
  void putStateSendsBytesContentTypeIfMatchAndToken() {
    responder = seen -> answer(204, "", "ETag", "\"abc\"");
    TidemarkClient c = TidemarkClient.builder().baseUrl(baseUrl).token("t0k").build();
    byte[] bytes = {0, 1, (byte) 255, (byte) 128, 13, 10};
    assertEquals("\"abc\"", c.putState("a/b:c", bytes, null, "\"old\""));
    Seen r = requests.get(0);
    assertEquals("PUT", r.method);
    assertEquals("/v1/state/a/b%3Ac", r.target);
    assertEquals("Bearer t0k", r.header("authorization"));
    assertEquals("application/octet-stream", r.header("content-type"));
    assertEquals("\"old\"", r.header("if-match"));
    assertEquals("6", r.header("content-length"));
    assertArrayEquals(bytes, r.body);
  }

  @Test
  void putStateWithContentTypeAndNoToken() {
    responder = seen -> answer(204, "", "ETag", "\"e\"");
    client().putState("k", "héllo".getBytes(UTF_8), "text/plain", null);
    Seen r = requests.get(0);
    assertEquals("text/plain", r.header("content-type"));
    assertNull(r.header("if-match"));
    assertNull(r.header("authorization"));
    assertArrayEquals("héllo".getBytes(UTF_8), r.body);
    assertNull(r.header("upgrade"), "HTTP/1.1 only: no h2c upgrade");
  }

  @Test
  void putStateErrors() {
    responder = seen -> apiError(413, "payload_too_large");
    PayloadTooLargeException big = assertThrows(PayloadTooLargeException.class,
        () -> client().putState("k", new byte[10]));
    assertEquals(413, big.status());
    responder = seen -> apiError(409, "precondition_failed");
    ConflictException conflict = assertThrows(ConflictException.class,
        () -> client().putState("k", new byte[1], null, "\"x\""));
    assertEquals("precondition_failed", conflict.code());
  }

  @Test
  void getStateAnswersBytesContentTypeAndEtagOrEmpty() {
    responder = seen -> answer(200, "42", "Content-Type", "text/plain", "ETag", "\"e1\"");
    Optional<State> got = client().getState("x/y z", TidemarkClient.View.STAGED);
    assertEquals("GET", requests.get(0).method);
    assertEquals("/v1/state/x/y%20z?view=staged", requests.get(0).target);
    assertTrue(got.isPresent());
    assertEquals("42", got.get().valueAsString());
    assertArrayEquals("42".getBytes(UTF_8), got.get().value());
    assertEquals("text/plain", got.get().contentType());
    assertEquals("\"e1\"", got.get().etag());

    client().getState("x");
    assertEquals("/v1/state/x", requests.get(1).target);
    client().getState("x", TidemarkClient.View.SEALED);
    assertEquals("/v1/state/x?view=sealed", requests.get(2).target);

    responder = seen -> apiError(404, "not_found");
    assertEquals(Optional.empty(), client().getState("x"));
  }

  @Test
  void getStateThrowsOtherErrors() {
    responder = seen -> apiError(400, "invalid_key");
    assertThrows(BadRequestException.class, () -> client().getState("a b"));
    responder = seen -> apiError(401, "unauthenticated");
    assertThrows(UnauthenticatedException.class, () -> client().getState("x"));
    responder = seen -> answer(404, "not the API");
    NotFoundException e = assertThrows(NotFoundException.class, () -> client().getState("x"));
    assertEquals("http_404", e.code());
  }

  @Test
  void deleteStateSendsIfMatch() {
    client().deleteState("a/b", "\"e\"");
    assertEquals("DELETE", requests.get(0).method);
    assertEquals("/v1/state/a/b", requests.get(0).target);
    assertEquals("\"e\"", requests.get(0).header("if-match"));
    responder = seen -> apiError(404, "not_found");
    NotFoundException e = assertThrows(NotFoundException.class, () -> client().deleteState("a/b"));
    assertEquals(404, e.status());
  }

  @Test
  void listStateEncodesTheQuery() {
    responder = seen -> json(200, "{\"keys\":[{\"key\":\"a b\",\"size\":3,\"etag\":\"\\\"1\\\"\",\"extra\":true}]}");
    assertEquals(List.of(new StateEntry("a b", 3, "\"1\"")),
        client().listState("a b+c/", TidemarkClient.View.STAGED));
    assertEquals("/v1/state?prefix=a%20b%2Bc%2F&view=staged", requests.get(0).target);
    client().listState();
    assertEquals("/v1/state", requests.get(1).target);
    client().listState(null, TidemarkClient.View.SEALED);
    assertEquals("/v1/state?view=sealed", requests.get(2).target);
  }

  @Test
  void markOffsetsPostsTheArray() {
    responder = seen -> json(200, "{\"seal\":7,\"partitions\":2}");
    SealResult r = client().markOffsets(List.of(Offset.of("g", "t", 0, 5),
        Offset.of("g", "t", 1, 6).withLeaderEpoch(3).withMetadata("m")));
    assertEquals(7, r.seal());
    assertEquals(2, r.partitions());
    Seen seen = requests.get(0);
    assertEquals("POST", seen.method);
    assertEquals("/v1/offsets", seen.target);
    assertEquals("application/json", seen.header("content-type"));
    assertEquals(Json.parse("[{\"group\":\"g\",\"topic\":\"t\",\"partition\":0,\"offset\":5},"
        + "{\"group\":\"g\",\"topic\":\"t\",\"partition\":1,\"offset\":6,\"leader_epoch\":3,\"metadata\":\"m\"}]"),
        Json.parse(new String(seen.body, UTF_8)));
  }

  @Test
  void commitPostsOffsetsAndBase64State() {
    responder = seen -> json(200, "{\"seal\":1,\"partitions\":1}");
    Map<String, byte[]> put = new LinkedHashMap<>();
    put.put("a/b", "alpha".getBytes(UTF_8));
    put.put("bin", new byte[] {0, (byte) 255});
    client().commit(List.of(Offset.of("g", "t", 0, 1)), put, List.of("gone"));
    assertEquals("/v1/commit", requests.get(0).target);
    assertEquals(Json.parse("{\"offsets\":[{\"group\":\"g\",\"topic\":\"t\",\"partition\":0,\"offset\":1}],"
        + "\"state\":{\"put\":{\"a/b\":\"YWxwaGE=\",\"bin\":\"AP8=\"},\"delete\":[\"gone\"]}}"),
        Json.parse(new String(requests.get(0).body, UTF_8)));
    client().commit(null, null, null);
    assertEquals(Json.parse("{\"offsets\":[],\"state\":{\"put\":{},\"delete\":[]}}"),
        Json.parse(new String(requests.get(1).body, UTF_8)));
  }

  @Test
  void checkpoints() {
    String summary = "\"id\":\"1795708078654000\",\"created_at_ms\":1795708078654,\"trigger\":\"request\","
        + "\"partitions\":1,\"state_keys\":2,\"state_bytes\":3";
    responder = seen -> {
      if (seen.method.equals("POST")) return json(201, "{\"id\":\"1795708078654000\"}");
      if (seen.target.equals("/v1/checkpoints")) return json(200, "{\"checkpoints\":[{" + summary + "}]}");
      return json(200, "{" + summary + ",\"job_id\":\"j\",\"offsets\":[{\"group\":\"g\",\"topic\":\"t\","
          + "\"partition\":0,\"offset\":9,\"leader_epoch\":-1,\"metadata\":null}],"
          + "\"state\":[{\"key\":\"k\",\"size\":3,\"sha256\":\"ab\",\"content_type\":\"text/plain\"}]}");
    };
    TidemarkClient c = client();
    assertEquals("1795708078654000", c.checkpoint());
    assertEquals("POST", requests.get(0).method);
    assertEquals("/v1/checkpoints", requests.get(0).target);
    List<CheckpointSummary> list = c.checkpoints();
    assertEquals(1, list.size());
    CheckpointSummary s = list.get(0);
    assertEquals("1795708078654000", s.id());
    assertEquals(1795708078654L, s.createdAtMs());
    assertEquals("request", s.trigger());
    assertEquals(1, s.partitions());
    assertEquals(2, s.stateKeys());
    assertEquals(3, s.stateBytes());
    CheckpointDetail d = c.getCheckpoint("1795708078654000");
    assertEquals("/v1/checkpoints/1795708078654000", requests.get(2).target);
    assertEquals("j", d.jobId());
    assertEquals("request", d.trigger());
    assertEquals(List.of(new Offset("g", "t", 0, 9, -1, null)), d.offsets());
    assertEquals("k", d.state().get(0).key());
    assertEquals(3, d.state().get(0).size());
    assertEquals("ab", d.state().get(0).sha256());
    assertEquals("text/plain", d.state().get(0).contentType());
  }

  @Test
  void anAnswerThatIsNotJsonOrNotOfTheExpectedShape() {
    TidemarkClient c = client();
    responder = seen -> answer(200, "<html>");
    assertEquals("malformed_answer", assertThrows(TidemarkException.class, c::checkpoints).code());
    responder = seen -> json(200, "{\"nothing\":[]}");
    assertEquals("malformed_answer", assertThrows(TidemarkException.class, c::checkpoints).code());
    assertEquals("malformed_answer", assertThrows(TidemarkException.class, c::listState).code());
    assertEquals("malformed_answer", assertThrows(TidemarkException.class, c::checkpoint).code());
    responder = seen -> json(200, "{\"keys\":[3]}");
    TidemarkException e = assertThrows(TidemarkException.class, c::listState);
    assertEquals("malformed_answer", e.code());
    assertEquals(200, e.status());
  }

  @Test
  void tokenFileIsReadForEveryRequest(@TempDir Path tmp) throws IOException {
    Path file = tmp.resolve("token");
    Files.writeString(file, "first\n");
    TidemarkClient c = TidemarkClient.builder().baseUrl(baseUrl).tokenFile(file).build();
    c.deleteState("k");
    Files.writeString(file, "second \r\n");
    c.deleteState("k");
    assertEquals("Bearer first", requests.get(0).header("authorization"));
    assertEquals("Bearer second", requests.get(1).header("authorization"));

    Files.writeString(file, "\n");
    assertEquals("token_file", assertThrows(TidemarkException.class, () -> c.deleteState("k")).code());
    TidemarkClient missing = TidemarkClient.builder().baseUrl(baseUrl).tokenFile(tmp.resolve("missing")).build();
    assertEquals("token_file", assertThrows(TidemarkException.class, () -> missing.deleteState("k")).code());
    assertEquals(2, requests.size());
  }

  @Test
  void aTimeoutIsATransportException() {
    responder = seen -> answer(-200, "{}");
    TidemarkClient c = TidemarkClient.builder().baseUrl(baseUrl).timeout(Duration.ofMillis(200)).build();
    TransportException e = assertThrows(TransportException.class, c::checkpoint);
    assertEquals(0, e.status());
    assertEquals("timeout", e.code());
  }

  @Test
  void aRefusedConnectionIsATransportException() throws IOException {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    TidemarkClient c = TidemarkClient.builder().baseUrl("http://127.0.0.1:" + port).build();
    TransportException e = assertThrows(TransportException.class, () -> c.getState("k"));
    assertEquals(0, e.status());
    assertEquals("transport", e.code());
    assertTrue(e.getCause() instanceof java.net.ConnectException, String.valueOf(e.getCause()));
  }

  @Test
  void baseUrlAndBuilderChecks() {
    responder = seen -> json(200, "{\"keys\":[]}");
    TidemarkClient c = TidemarkClient.builder().baseUrl(baseUrl + "/").build();
    assertEquals(baseUrl, c.baseUrl());
    c.listState();
    assertEquals("/v1/state", requests.get(0).target);
    assertEquals("http://127.0.0.1:8770", TidemarkClient.builder().build().baseUrl());
    assertThrows(IllegalArgumentException.class,
        () -> TidemarkClient.builder().token("a").tokenFile(Path.of("/x")).build());
    assertThrows(IllegalArgumentException.class, () -> TidemarkClient.builder().token("").build());
    assertThrows(IllegalArgumentException.class, () -> TidemarkClient.builder().baseUrl("not a url").build());
    assertThrows(IllegalArgumentException.class, () -> TidemarkClient.builder().baseUrl("ftp://h").build());
    assertThrows(IllegalArgumentException.class, () -> TidemarkClient.builder().timeout(Duration.ZERO).build());
  }
}
