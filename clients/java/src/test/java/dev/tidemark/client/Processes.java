package dev.tidemark.client;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Test support: the embedded Kafka cluster and a real {@code tidemark serve}
 * against it, as tests/harness/tidemark.py starts them. Binaries come from
 * $TIDEMARK_BUILD_DIR (run-tests sets it; default: the repository's build/).
 */
final class Processes {
  private Processes() {}

  static Path repo() {
    String env = System.getenv("TIDEMARK_REPO");
    if (env != null && !env.isEmpty()) return Path.of(env);
    return Path.of("").toAbsolutePath(); // run-tests runs from the repository root
  }

  static Path buildDir() {
    String env = System.getenv("TIDEMARK_BUILD_DIR");
    return env != null && !env.isEmpty() ? Path.of(env) : repo().resolve("build");
  }

  static Path binary(String name) {
    Path p = buildDir().resolve(name);
    if (!Files.isExecutable(p)) {
      throw new IllegalStateException(p + " is missing: build first, or set TIDEMARK_BUILD_DIR");
    }
    return p;
  }

  /** A stream's lines, kept by a reader thread, with a wait for one that matches. */
  static final class Lines {
    private final List<String> lines = new ArrayList<>();
    private boolean closed;

    Lines(InputStream in, String name) {
      Thread t = new Thread(() -> {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
          for (String line; (line = r.readLine()) != null; ) {
            synchronized (this) {
              lines.add(line);
              if (lines.size() > 500) lines.remove(0);
              notifyAll();
            }
          }
        } catch (IOException e) {
          // the process went away
        } finally {
          synchronized (this) {
            closed = true;
            notifyAll();
          }
        }
      }, name);
      t.setDaemon(true);
      t.start();
    }

    synchronized String tail() {
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
    }

    /** The first kept line that matches; waits up to timeoutMs for one. */
    synchronized String waitFor(Predicate<String> p, long timeoutMs, String what) throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
      int seen = 0;
      while (true) {
        for (; seen < lines.size(); seen++) {
          if (p.test(lines.get(seen))) return lines.get(seen);
        }
        if (closed) throw new IllegalStateException("stream closed before " + what + "; last lines:\n" + tail());
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new IllegalStateException("no " + what + " within " + timeoutMs + " ms; last lines:\n" + tail());
        }
        TimeUnit.NANOSECONDS.timedWait(this, left);
      }
    }
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /**
   * A base port with base..base+count-1 all free, below Linux's ephemeral
   * range so no outgoing connection takes one later (the sidecar opens broker
   * listeners at base + node id lazily).
   */
  static int freePortRange(int count) {
    Random random = new Random();
    for (int attempt = 0; attempt < 200; attempt++) {
      int base = 20000 + random.nextInt(32768 - count - 20000);
      List<ServerSocket> sockets = new ArrayList<>();
      try {
        for (int port = base; port < base + count; port++) {
          sockets.add(new ServerSocket(port, 1, InetAddress.getLoopbackAddress()));
        }
        return base;
      } catch (IOException taken) {
        // try another base
      } finally {
        for (ServerSocket s : sockets) {
          try {
            s.close();
          } catch (IOException ignored) {
            // closing a listener we opened
          }
        }
      }
    }
    throw new IllegalStateException("no free port range");
  }

  // Waits graceMs for `p` to exit, then kills it.
  private static void stop(Process p, long graceMs) {
    try {
      if (!p.waitFor(graceMs, TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        p.waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  /** tidemark-embedded-kafka. */
  static final class EmbeddedKafka implements AutoCloseable {
    final Process process;
    final Lines stdout;
    final Lines stderr;
    final String bootstrap;

    EmbeddedKafka(int brokers, String... topics) throws IOException, InterruptedException {
      List<String> cmd = new ArrayList<>(List.of(binary("tidemark-embedded-kafka").toString(), "--brokers",
          String.valueOf(brokers)));
      for (String t : topics) {
        cmd.add("--topic");
        cmd.add(t);
      }
      ProcessBuilder pb = new ProcessBuilder(cmd);
      pb.environment().remove("LD_LIBRARY_PATH"); // Debian's librdkafka generation
      process = pb.start();
      Runtime.getRuntime().addShutdownHook(new Thread(process::destroyForcibly));
      stdout = new Lines(process.getInputStream(), "kafka-stdout");
      stderr = new Lines(process.getErrorStream(), "kafka-stderr");
      String ready = stdout.waitFor(l -> l.startsWith("{"), 30_000, "ready line");
      bootstrap = Json.string(Json.object(Json.parse(ready), "ready line"), "bootstrap");
    }

    @Override
    public void close() {
      if (!process.isAlive()) return;
      try {
        OutputStream in = process.getOutputStream();
        in.write("quit\n".getBytes(StandardCharsets.UTF_8));
        in.close();
      } catch (IOException gone) {
        // already exiting
      }
      stop(process, 15_000);
    }
  }

  /** {"a.b": "v"} as nested YAML, every scalar quoted. */
  @SuppressWarnings("unchecked")
  static String toYaml(Map<String, String> dotted) {
    Map<String, Object> tree = new LinkedHashMap<>();
    for (Map.Entry<String, String> e : dotted.entrySet()) {
      String[] parts = e.getKey().split("\\.");
      Map<String, Object> node = tree;
      for (int i = 0; i < parts.length - 1; i++) {
        node = (Map<String, Object>) node.computeIfAbsent(parts[i], k -> new LinkedHashMap<String, Object>());
      }
      node.put(parts[parts.length - 1], e.getValue());
    }
    StringBuilder out = new StringBuilder();
    emit(out, tree, 0);
    return out.toString();
  }

  @SuppressWarnings("unchecked")
  private static void emit(StringBuilder out, Map<String, Object> node, int indent) {
    for (Map.Entry<String, Object> e : node.entrySet()) {
      out.append(" ".repeat(indent)).append(e.getKey()).append(':');
      if (e.getValue() instanceof Map) {
        out.append('\n');
        emit(out, (Map<String, Object>) e.getValue(), indent + 2);
      } else {
        out.append(' ').append(Json.write(e.getValue())).append('\n');
      }
    }
  }

  private static final Pattern READY = Pattern.compile("\\bmsg=ready\\b");
  private static final Pattern HTTP = Pattern.compile("\\bhttp=(\\S+)");

  /** {@code tidemark serve} with the harness defaults, {@code settings} over them, and the token. */
  static final class Sidecar implements AutoCloseable {
    final Path workdir;
    final Process process;
    final Lines log;
    final String baseUrl;

    Sidecar(String upstream, Map<String, String> settings, String token) throws IOException, InterruptedException {
      workdir = Files.createTempDirectory("tidemark-java-");
      Map<String, String> config = new LinkedHashMap<>();
      config.put("job.id", "conformance-java");
      config.put("proxy.listen", "127.0.0.1:" + freePort());
      config.put("proxy.broker_port_base", String.valueOf(freePortRange(16)));
      config.put("proxy.upstream.bootstrap_servers", upstream);
      config.put("http.listen", "127.0.0.1:0");
      config.put("store.path", workdir.resolve("tidemark.db").toString());
      config.put("log.level", "info");
      if (token != null) {
        Path tokenFile = workdir.resolve("token");
        Files.writeString(tokenFile, token + "\n");
        config.put("http.token_file", tokenFile.toString());
      }
      config.putAll(settings);
      Path configPath = workdir.resolve("tidemark.yaml");
      Files.writeString(configPath, toYaml(config));
      ProcessBuilder pb = new ProcessBuilder(binary("tidemark").toString(), "serve", "--config", configPath.toString());
      pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
      process = pb.start();
      Runtime.getRuntime().addShutdownHook(new Thread(process::destroyForcibly));
      log = new Lines(process.getErrorStream(), "sidecar-log");
      String ready;
      try {
        ready = log.waitFor(l -> READY.matcher(l).find(), 30_000, "ready log line");
      } catch (RuntimeException e) {
        close();
        throw e;
      }
      Matcher m = HTTP.matcher(ready);
      if (!m.find()) throw new IllegalStateException("no http= in " + ready);
      baseUrl = "http://" + m.group(1);
    }

    @Override
    public void close() {
      if (process.isAlive()) {
        process.destroy(); // SIGTERM
        stop(process, 30_000);
      }
      try (Stream<Path> files = Files.walk(workdir)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      } catch (IOException ignored) {
        // a temporary folder left behind
      }
    }
  }
}
