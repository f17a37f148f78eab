#!/usr/bin/python3
"""Captures golden Kafka frames from real clients talking to the embedded cluster.

    sudo /usr/bin/python3 tests/tools/capture_golden_frames.py [--only CLIENT-GEN ...] [--keep-pcap DIR]

A developer tool, not run in CI: it needs tcpdump (`apt-get install -y tcpdump`),
root (or CAP_NET_RAW) to capture on loopback, a build (`cmake --build --preset
default`), kcat, python3-confluent-kafka, python3-kafka, node + npm (kafkajs is
installed into a temporary folder) and, for the modern generation, the
librdkafka that scripts/setup-modern-kafka builds.

For each client and generation it starts a fresh embedded cluster
(`tidemark-embedded-kafka --brokers 3 --topic demo:6`) on that generation's
librdkafka, captures loopback traffic to the brokers' ports while the client
runs a short realistic session directly against the cluster (metadata, produce,
consume in a consumer group, commit, fetch committed offsets, leave), then
parses the pcap itself (pcap format, TCP reassembly per direction, Kafka
framing, responses paired with requests by correlation id per connection) and
writes, for every frame whose API the codec decodes (kApis), the frame without
its 4-byte length prefix (header + body) to

    tests/protocol/kafka/golden/<client>-<generation>/NNNN-<Api>-v<V>-<request|response>.bin

NNNN numbers request/response pairs in capture order. Produce requests and
Fetch responses over 4 KiB are skipped, and each (API, version, direction)
keeps at most --per-kind distinct frames, so the fixtures stay small. For
kafka-python and kafkajs (not librdkafka-based) the generation is the cluster's.
tests/protocol/kafka/golden_frames_test.cc checks that every fixture
round-trips byte-exactly through the codec.
"""

import argparse
import bisect
import os
import pathlib
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import textwrap
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
from harness.tidemark import EmbeddedKafka, client_env  # noqa: E402

GOLDEN = REPO / "tests" / "protocol" / "kafka" / "golden"
KAFKAJS_VERSION = "2.2.4"
# The APIs the codec decodes (build/protocol/kafka/messages.h, kApis).
APIS = {0: "Produce", 1: "Fetch", 3: "Metadata", 8: "OffsetCommit", 9: "OffsetFetch",
        10: "FindCoordinator", 11: "JoinGroup", 12: "Heartbeat", 13: "LeaveGroup",
        14: "SyncGroup", 18: "ApiVersions", 28: "TxnOffsetCommit", 60: "DescribeCluster"}
MAX_LARGE = 4096  # Produce requests / Fetch responses above this are skipped.

# --------------------------------------------------------------------------
# pcap parsing and TCP reassembly (plain Python).


def read_pcap(path):
    """Yields (timestamp, linktype, packet bytes) from a classic pcap file."""
    data = pathlib.Path(path).read_bytes()
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise ValueError(f"{path}: not a classic pcap file (pcapng is not supported)")
    nanos = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0x0FFFFFFF
    pos = 24
    while pos + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(endian + "IIII", data[pos:pos + 16])
        pos += 16
        packet = data[pos:pos + incl]
        pos += incl
        if len(packet) < incl:
            break  # truncated last record (capture stopped mid-write)
        yield sec + frac / (1e9 if nanos else 1e6), linktype, packet


def ip_payload(linktype, pkt):
    """Returns (ethertype-ish family, ip packet) for the link types tcpdump uses on lo."""
    if linktype == 1:  # Ethernet
        off, etype = 14, struct.unpack(">H", pkt[12:14])[0]
        while etype in (0x8100, 0x88A8):  # VLAN tags
            etype = struct.unpack(">H", pkt[off + 2:off + 4])[0]
            off += 4
        return etype, pkt[off:]
    if linktype == 113:  # Linux cooked v1
        return struct.unpack(">H", pkt[14:16])[0], pkt[16:]
    if linktype == 276:  # Linux cooked v2
        return struct.unpack(">H", pkt[0:2])[0], pkt[20:]
    if linktype == 0:  # BSD loopback
        fam = struct.unpack("<I", pkt[:4])[0]
        return (0x0800 if fam == 2 else 0x86DD), pkt[4:]
    if linktype in (12, 101):  # raw IP
        return (0x0800 if pkt[0] >> 4 == 4 else 0x86DD), pkt
    raise ValueError(f"unsupported pcap link type {linktype}")


def tcp_segments(path):
    """Yields (ts, src, dst, seq, flags, payload); src/dst are (ip, port)."""
    for ts, linktype, pkt in read_pcap(path):
        etype, ip = ip_payload(linktype, pkt)
        if etype == 0x0800:
            if len(ip) < 20 or ip[9] != 6:
                continue
            ihl = (ip[0] & 0x0F) * 4
            total = struct.unpack(">H", ip[2:4])[0]
            if struct.unpack(">H", ip[6:8])[0] & 0x3FFF:
                continue  # IP fragment: never happens on loopback
            src_ip, dst_ip = ".".join(map(str, ip[12:16])), ".".join(map(str, ip[16:20]))
            tcp = ip[ihl:total]
        elif etype == 0x86DD:
            if len(ip) < 40 or ip[6] != 6:
                continue
            plen = struct.unpack(">H", ip[4:6])[0]
            src_ip, dst_ip = ip[8:24].hex(), ip[24:40].hex()
            tcp = ip[40:40 + plen]
        else:
            continue
        if len(tcp) < 20:
            continue
        sport, dport, seq = struct.unpack(">HHI", tcp[:8])
        doff = (tcp[12] >> 4) * 4
        flags = tcp[13]
        yield ts, (src_ip, sport), (dst_ip, dport), seq, flags, tcp[doff:]


class Stream:
    """One direction of a TCP connection, reassembled by sequence number."""

    def __init__(self):
        self.isn = None
        self.segments = []  # (relative offset, ts, payload)
        self.first_ts = None

    def add(self, ts, seq, flags, payload):
        if self.first_ts is None:
            self.first_ts = ts
        if flags & 0x02:  # SYN: data starts at ISN + 1
            self.isn = seq
            return
        if payload:
            self.segments.append((seq, ts, payload))

    def assemble(self):
        """Returns (bytes, [(offset, ts)] sorted) up to the first gap."""
        if not self.segments:
            return b"", []
        base = (self.isn + 1) if self.isn is not None else min(s for s, _, _ in self.segments)
        segs = sorted(((s - base) % (1 << 32), ts, p) for s, ts, p in self.segments)
        out, marks = bytearray(), []
        for off, ts, payload in segs:
            end = off + len(payload)
            if off > len(out):
                print(f"  warning: gap in TCP stream at {len(out)} (next segment at {off}); "
                      "stream truncated", file=sys.stderr)
                break
            if end <= len(out):
                continue  # retransmission
            marks.append((len(out), ts))
            out += payload[len(out) - off:]
        return bytes(out), marks


def kafka_frames(data, marks):
    """Splits a stream into (ts, frame-without-length-prefix)."""
    offsets = [o for o, _ in marks]
    pos, out = 0, []
    while pos + 4 <= len(data):
        size = struct.unpack(">i", data[pos:pos + 4])[0]
        if size < 0 or pos + 4 + size > len(data):
            break  # incomplete last frame
        ts = marks[bisect.bisect_right(offsets, pos) - 1][1]
        out.append((ts, data[pos + 4:pos + 4 + size]))
        pos += 4 + size
    return out


def extract_pairs(pcap, broker_ports):
    """Returns [(ts, key, version, request frame, response frame or None)] in capture order."""
    streams = {}  # (src, dst) -> Stream
    for ts, src, dst, seq, flags, payload in tcp_segments(pcap):
        if src[1] not in broker_ports and dst[1] not in broker_ports:
            continue
        streams.setdefault((src, dst), Stream()).add(ts, seq, flags, payload)
    pairs = []
    for (src, dst), up in streams.items():
        if dst[1] not in broker_ports:
            continue  # broker -> client: handled with its request stream
        down = streams.get((dst, src), Stream())
        requests = kafka_frames(*up.assemble())
        responses = {}
        for ts, frame in kafka_frames(*down.assemble()):
            if len(frame) >= 4:
                responses.setdefault(struct.unpack(">i", frame[:4])[0], frame)
        for ts, frame in requests:
            if len(frame) < 8:
                continue
            key, version, corr = struct.unpack(">hhi", frame[:8])
            pairs.append((ts, key, version, frame, responses.get(corr)))
    pairs.sort(key=lambda p: p[0])
    return pairs


def write_fixtures(pairs, folder, per_kind):
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    seen, kept, skipped = {}, 0, 0
    n = 0
    for _ts, key, version, request, response in pairs:
        if key not in APIS:
            continue
        wanted = []
        for direction, frame in (("request", request), ("response", response)):
            if frame is None:
                continue
            large = len(frame) > MAX_LARGE and (
                (key == 0 and direction == "request") or (key == 1 and direction == "response"))
            # Distinct frames per kind, ignoring the correlation id.
            body = frame[:4] + frame[8:] if direction == "request" else frame[4:]
            kind = seen.setdefault((key, version, direction), set())
            if large or body in kind or len(kind) >= per_kind:
                skipped += 1
                continue
            kind.add(body)
            wanted.append((direction, frame))
        if not wanted:
            continue
        n += 1
        for direction, frame in wanted:
            name = f"{n:04d}-{APIS[key]}-v{version}-{direction}.bin"
            (folder / name).write_bytes(frame)
            kept += 1
    return kept, skipped


# --------------------------------------------------------------------------
# Client sessions: each runs directly against the cluster's bootstrap.

MESSAGES = 6

CONFLUENT_SESSION = textwrap.dedent("""
    import sys, confluent_kafka as ck
    b, n = sys.argv[1], int(sys.argv[2])
    print("librdkafka", ck.libversion()[0], file=sys.stderr)
    p = ck.Producer({"bootstrap.servers": b, "client.id": "golden-ck", "linger.ms": 5})
    p.list_topics(timeout=10)
    for i in range(n):
        p.produce("demo", key=f"k{i}".encode(), value=f"hello {i}".encode(),
                  headers=[("h", b"v")])
    assert p.flush(15) == 0
    c = ck.Consumer({"bootstrap.servers": b, "group.id": "golden-ck", "client.id": "golden-ck",
                     "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe(["demo"])
    got = 0
    while got < n:
        m = c.poll(15)
        assert m is not None, "no message"
        if m.error():
            continue
        got += 1
    c.commit(asynchronous=False)
    parts = [ck.TopicPartition("demo", i) for i in range(6)]
    print("committed", [p.offset for p in c.committed(parts, timeout=10)], file=sys.stderr)
    c.close()
    # A transactional producer committing consumer offsets (TxnOffsetCommit).
    tp = ck.Producer({"bootstrap.servers": b, "client.id": "golden-ck-txn",
                      "transactional.id": "golden-txn"})
    try:
        tp.init_transactions(15)
        tp.begin_transaction()
        tp.produce("demo", key=b"t", value=b"in a transaction", partition=0)
        c2 = ck.Consumer({"bootstrap.servers": b, "group.id": "golden-ck",
                          "enable.auto.commit": False})
        tp.send_offsets_to_transaction([ck.TopicPartition("demo", 0, 1)],
                                       c2.consumer_group_metadata(), 15)
        tp.commit_transaction(15)
        c2.close()
    except Exception as e:
        print("transaction skipped:", e, file=sys.stderr)
    tp.flush(5)
""")

KAFKA_PYTHON_SESSION = textwrap.dedent("""
    import sys, kafka
    from kafka import TopicPartition
    b, n = sys.argv[1].split(","), int(sys.argv[2])
    p = kafka.KafkaProducer(bootstrap_servers=b, client_id="golden-kp")
    for i in range(n):
        p.send("demo", key=f"k{i}".encode(), value=f"hello {i}".encode()).get(timeout=15)
    p.flush(); p.close()
    c = kafka.KafkaConsumer(bootstrap_servers=b, group_id="golden-kp", client_id="golden-kp",
                            auto_offset_reset="earliest", enable_auto_commit=False)
    c.subscribe(["demo"])
    got = 0
    for _ in range(60):
        got += sum(len(v) for v in c.poll(timeout_ms=500).values())
        if got >= n:
            break
    assert got >= n, f"got {got} messages"
    c.commit()
    print("committed", [c.committed(TopicPartition("demo", i)) for i in range(6)], file=sys.stderr)
    c.close()
""")

KAFKAJS_SESSION = textwrap.dedent("""
    const { Kafka, logLevel } = require('kafkajs');
    const [bootstrap, n] = [process.argv[2], Number(process.argv[3])];
    const kafka = new Kafka({ clientId: 'golden-kafkajs', brokers: bootstrap.split(','),
                              logLevel: logLevel.NOTHING });
    (async () => {
      const admin = kafka.admin();
      await admin.connect();
      await admin.fetchTopicMetadata({ topics: ['demo'] });
      const producer = kafka.producer();
      await producer.connect();
      const messages = [];
      for (let i = 0; i < n; i++) messages.push({ key: `k${i}`, value: `hello ${i}`, headers: { h: 'v' } });
      await producer.send({ topic: 'demo', messages });
      await producer.disconnect();
      const consumer = kafka.consumer({ groupId: 'golden-kafkajs' });
      await consumer.connect();
      await consumer.subscribe({ topic: 'demo', fromBeginning: true });
      let got = 0;
      await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`got ${got} messages`)), 30000);
        consumer.run({ autoCommit: false, eachMessage: async ({ topic, partition, message }) => {
          await consumer.commitOffsets([{ topic, partition,
                                          offset: (BigInt(message.offset) + 1n).toString() }]);
          if (++got >= n) { clearTimeout(timer); resolve(); }
        } });
      });
      await consumer.disconnect();
      const offsets = await admin.fetchOffsets({ groupId: 'golden-kafkajs', topics: ['demo'] });
      console.error('committed', JSON.stringify(offsets));
      await admin.disconnect();
    })().catch((e) => { console.error(e); process.exit(1); });
""")


def kcat_session(bootstrap, env):
    def kcat(*args, stdin=None):
        out = subprocess.run(["kcat", "-b", bootstrap, *args], input=stdin, env=env,
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"kcat {' '.join(args)}: {out.stderr}")
        return out.stdout

    kcat("-L")
    kcat("-P", "-t", "demo", "-K", ":", "-X", "client.id=golden-kcat",
         stdin="".join(f"k{i}:hello {i}\n" for i in range(MESSAGES)))
    # A balanced consumer: joins the group, fetches committed offsets, consumes,
    # commits (on close) and leaves. Twice, so the second run fetches real offsets.
    group = ["-G", "golden-kcat", "demo", "-X", "client.id=golden-kcat",
             "-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=1000",
             "-X", "auto.offset.reset=earliest"]
    kcat("-C", *group, "-c", str(MESSAGES))
    kcat("-P", "-t", "demo", "-p", "0", "-X", "client.id=golden-kcat", stdin="one more\n")
    kcat("-C", *group, "-c", "1")


def run(cmd, env, timeout=120):
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"{cmd[0]} session failed ({out.returncode}): {out.stderr[-2000:]}")
    for line in out.stderr.splitlines()[-3:]:
        print(f"  {line}")


def session(client, generation, bootstrap, kafkajs_dir):
    env = client_env(generation) if client in ("kcat", "confluent-kafka") else client_env("debian")
    if client == "kcat":
        kcat_session(bootstrap, env)
    elif client == "confluent-kafka":
        run(["/usr/bin/python3", "-c", CONFLUENT_SESSION, bootstrap, str(MESSAGES)], env)
    elif client == "kafka-python":
        run(["/usr/bin/python3", "-c", KAFKA_PYTHON_SESSION, bootstrap, str(MESSAGES)], env)
    elif client == "kafkajs":
        script = pathlib.Path(kafkajs_dir) / "session.js"
        script.write_text(KAFKAJS_SESSION)
        env = dict(env, NODE_PATH=str(pathlib.Path(kafkajs_dir) / "node_modules"))
        run(["node", str(script), bootstrap, str(MESSAGES)], env)


def install_kafkajs(folder):
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error",
                    "--prefix", str(folder), f"kafkajs@{KAFKAJS_VERSION}"],
                   check=True, capture_output=True, timeout=300)


def capture(client, generation, workdir, per_kind, kafkajs_dir, keep_pcap):
    print(f"{client}-{generation}:")
    cluster = EmbeddedKafka(generation)
    pcap = pathlib.Path(workdir) / f"{client}-{generation}.pcap"
    try:
        ports = {int(hp.rsplit(":", 1)[1]) for hp in cluster.bootstrap.split(",")}
        filt = "tcp and (" + " or ".join(f"port {p}" for p in sorted(ports)) + ")"
        dump = subprocess.Popen(["tcpdump", "-i", "lo", "-s", "0", "-U", "-B", "16384",
                                 "-Z", "root", "-w", str(pcap), filt],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)  # tcpdump is listening once it has opened the interface
        try:
            session(client, generation, cluster.bootstrap, kafkajs_dir)
            time.sleep(1.0)
        finally:
            dump.send_signal(signal.SIGINT)
            _, err = dump.communicate(timeout=15)
        dropped = [l for l in err.splitlines() if "dropped by kernel" in l]
        if dropped and not dropped[0].startswith("0 "):
            raise RuntimeError(f"tcpdump: {dropped[0]}")
    finally:
        cluster.stop()
    pairs = extract_pairs(pcap, ports)
    kept, skipped = write_fixtures(pairs, GOLDEN / f"{client}-{generation}", per_kind)
    print(f"  {len(pairs)} requests captured; {kept} fixtures written, {skipped} frames skipped")
    if keep_pcap:
        shutil.copy(pcap, pathlib.Path(keep_pcap) / pcap.name)


TARGETS = [(c, g) for c in ("kcat", "confluent-kafka", "kafka-python", "kafkajs")
           for g in ("debian", "modern")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*", help="CLIENT-GENERATION folders to (re)capture")
    ap.add_argument("--per-kind", type=int, default=20,
                    help="distinct frames kept per (API, version, direction)")
    ap.add_argument("--keep-pcap", help="folder to copy the raw captures into")
    args = ap.parse_args()
    if shutil.which("tcpdump") is None:
        sys.exit("tcpdump is missing: apt-get install -y tcpdump")
    targets = [t for t in TARGETS if not args.only or f"{t[0]}-{t[1]}" in args.only]
    with tempfile.TemporaryDirectory(prefix="tidemark-golden-") as work:
        os.chmod(work, 0o755)
        kafkajs_dir = pathlib.Path(work) / "kafkajs"
        if any(c == "kafkajs" for c, _ in targets):
            install_kafkajs(kafkajs_dir)
        for client, generation in targets:
            capture(client, generation, work, args.per_kind, kafkajs_dir, args.keep_pcap)
    total = sum(f.stat().st_size for f in GOLDEN.rglob("*.bin"))
    print(f"golden fixtures: {len(list(GOLDEN.rglob('*.bin')))} files, {total} bytes")


if __name__ == "__main__":
    main()
