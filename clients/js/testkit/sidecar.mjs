// Test support (not part of the package): starts the embedded Kafka cluster
// and a real `tidemark serve` against it, as tests/harness/tidemark.py does.
// Binaries come from $TIDEMARK_BUILD_DIR (default: <repo>/build).

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

export function buildDir() {
  return process.env.TIDEMARK_BUILD_DIR || path.join(REPO, "build");
}

export function binary(name) {
  const file = path.join(buildDir(), name);
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: build first, or set TIDEMARK_BUILD_DIR`);
  }
  return file;
}

// Children still running when this process exits are killed.
const children = new Set();
process.on("exit", () => {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
});

function track(child) {
  children.add(child);
  child.on("exit", () => children.delete(child));
  return child;
}

// Keeps a stream's lines and lets callers wait for one that matches.
class Lines {
  constructor(stream) {
    this.lines = [];
    this.waiters = [];
    this.closed = false;
    const rl = readline.createInterface({ input: stream, crlfDelay: Infinity });
    rl.on("line", (line) => {
      this.lines.push(line);
      if (this.lines.length > 500) this.lines.shift();
      for (const w of [...this.waiters]) {
        if (w.predicate(line)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    });
    rl.on("close", () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w.reject(new Error(`stream closed before ${w.what}`));
    });
  }

  tail(n = 20) {
    return this.lines.slice(-n).join("\n");
  }

  waitFor(predicate, timeoutMs, what) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`no ${what} within ${timeoutMs} ms; last lines:\n${this.tail()}`));
      }, timeoutMs);
      const waiter = {
        predicate,
        what,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(new Error(`${err.message}; last lines:\n${this.tail()}`));
        },
      };
      const seen = this.lines.find(predicate);
      if (seen !== undefined) return waiter.resolve(seen);
      if (this.closed) return waiter.reject(new Error(`stream closed before ${what}`));
      this.waiters.push(waiter);
    });
  }
}

function waitExit(child, timeoutMs) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

function listen(port) {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

function close(server) {
  return new Promise((resolve) => server.close(() => resolve()));
}

export async function freePort() {
  const server = await listen(0);
  const { port } = server.address();
  await close(server);
  return port;
}

// A base with base..base+count-1 free, below Linux's ephemeral range, so that
// no outgoing connection takes one later (the sidecar opens broker listeners
// at base + node id lazily).
export async function freePortRange(count) {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20000 + Math.floor(Math.random() * (32768 - count - 20000));
    const servers = [];
    try {
      for (let port = base; port < base + count; port++) servers.push(await listen(port));
      return base;
    } catch {
      // taken: try another base
    } finally {
      await Promise.all(servers.map(close));
    }
  }
  throw new Error("no free port range");
}

/** tidemark-embedded-kafka: `await EmbeddedKafka.start({brokers, topics})`. */
export class EmbeddedKafka {
  static async start({ brokers = 1, topics = ["demo:6"] } = {}) {
    const args = ["--brokers", String(brokers)];
    for (const t of topics) args.push("--topic", t);
    const env = { ...process.env };
    delete env.LD_LIBRARY_PATH; // Debian's librdkafka generation
    const child = track(
      spawn(binary("tidemark-embedded-kafka"), args, { env, stdio: ["pipe", "pipe", "pipe"] }),
    );
    const kafka = new EmbeddedKafka(child);
    const line = await kafka.stdout.waitFor((l) => l.startsWith("{"), 30_000, "ready line");
    const info = JSON.parse(line);
    kafka.bootstrap = info.bootstrap;
    kafka.brokers = info.brokers;
    return kafka;
  }

  constructor(child) {
    this.child = child;
    this.stdout = new Lines(child.stdout);
    this.stderr = new Lines(child.stderr);
  }

  async stop() {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.stdin.end("quit\n");
      if (!(await waitExit(this.child, 15_000))) {
        this.child.kill("SIGKILL");
        await waitExit(this.child, 5_000);
      }
    }
  }
}

// {"a.b": "v"} as nested YAML, every scalar quoted.
export function toYaml(dotted) {
  const tree = {};
  for (const [key, value] of Object.entries(dotted)) {
    const parts = key.split(".");
    let node = tree;
    for (const p of parts.slice(0, -1)) node = node[p] ??= {};
    node[parts.at(-1)] = String(value);
  }
  const lines = [];
  const emit = (node, indent) => {
    for (const [k, v] of Object.entries(node)) {
      if (typeof v === "object") {
        lines.push(`${" ".repeat(indent)}${k}:`);
        emit(v, indent + 2);
      } else {
        lines.push(`${" ".repeat(indent)}${k}: ${JSON.stringify(v)}`);
      }
    }
  };
  emit(tree, 0);
  return `${lines.join("\n")}\n`;
}

const READY = /\bmsg=ready\b/;

/**
 * `tidemark serve` against `upstream`, with `settings` (dotted config paths)
 * over the harness defaults and, when `token` is given, http.token_file
 * pointing at a file holding it.
 */
export class Sidecar {
  static async start({ upstream, settings = {}, token } = {}) {
    const workdir = await mkdtemp(path.join(os.tmpdir(), "tidemark-js-"));
    const config = {
      "job.id": "conformance-js",
      "proxy.listen": `127.0.0.1:${await freePort()}`,
      "proxy.broker_port_base": String(await freePortRange(16)),
      "proxy.upstream.bootstrap_servers": upstream,
      "http.listen": "127.0.0.1:0",
      "store.path": path.join(workdir, "tidemark.db"),
      "log.level": "info",
    };
    if (token !== undefined) {
      const tokenFile = path.join(workdir, "token");
      await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
      config["http.token_file"] = tokenFile;
    }
    Object.assign(config, settings);
    const configPath = path.join(workdir, "tidemark.yaml");
    await writeFile(configPath, toYaml(config));
    const child = track(
      spawn(binary("tidemark"), ["serve", "--config", configPath], { stdio: ["ignore", "pipe", "pipe"] }),
    );
    const sidecar = new Sidecar(child, workdir);
    try {
      const ready = await sidecar.log.waitFor((l) => READY.test(l), 30_000, "ready log line");
      sidecar.http = /\bhttp=(\S+)/.exec(ready)[1];
    } catch (err) {
      await sidecar.stop();
      throw err;
    }
    sidecar.baseUrl = `http://${sidecar.http}`;
    return sidecar;
  }

  constructor(child, workdir) {
    this.child = child;
    this.workdir = workdir;
    this.log = new Lines(child.stderr);
    this.stdout = new Lines(child.stdout);
  }

  async stop() {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill("SIGTERM");
      if (!(await waitExit(this.child, 30_000))) {
        this.child.kill("SIGKILL");
        await waitExit(this.child, 5_000);
      }
    }
    await rm(this.workdir, { recursive: true, force: true });
  }
}
