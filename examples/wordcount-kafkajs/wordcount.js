#!/usr/bin/env node
// A stateful word count: an ordinary kafkajs consumer, checkpointed by Tidemark.
//
//   NODE_PATH=<folder holding kafkajs> node wordcount.js --bootstrap 127.0.0.1:19092 \
//       --http 127.0.0.1:8770 --topic words [--group wordcount] \
//       [--until '{"0": 1200, "1": 980}'] [--batch 500] [-X name=value ...]
//
// The kafkajs twin of examples/wordcount (confluent-kafka): same state key and
// layout, same output. Compared with a plain consumer it changes in three places
// only, marked TIDEMARK: the brokers are the sidecar; after each batch it PUTs its
// whole state and then commits its offsets (the commit seals that state with them);
// and at start and whenever partitions are assigned it reloads the state from the
// sealed view, which is also where the committed offsets kafkajs resumes from
// (OffsetFetch) come from. See README.md.
//
// --until (JSON: partition -> end offset) makes it stop once it has processed every
// partition up to there; it then prints its counts as JSON on stdout. -X sets or
// overrides a consumer option (sessionTimeout=3000; numbers are passed as numbers).
// Progress goes to stderr. Needs Node 18+ (built-in fetch) and kafkajs 2.
'use strict';

const { Kafka, logLevel } = require('kafkajs');

const log = (message) => process.stderr.write(`${new Date().toISOString()} wordcount: ${message}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function parseArgs(argv) {
  const args = { group: 'wordcount', batch: 500, X: [] };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--?/, '');
    if (i + 1 >= argv.length) usage(`${argv[i]} needs a value`);
    if (name === 'X') args.X.push(argv[i + 1]);
    else args[name] = argv[i + 1];
  }
  if (!args.bootstrap || !args.http || !args.topic) usage('--bootstrap, --http and --topic are required');
  args.batch = Number(args.batch);
  return args;
}

function usage(problem) {
  process.stderr.write(`wordcount.js: ${problem}\n` +
    'usage: wordcount.js --bootstrap HOST:PORT --http HOST:PORT ' +
    '--topic T [--group G] [--until JSON] [--batch N] [-X name=value ...]\n');
  process.exit(2);
}

// GET/PUT of one state key on the sidecar's HTTP API, retried while the sidecar is away.
class StateClient {
  constructor(address, key) {
    this.url = `http://${address}/v1/state/${key}`;
  }

  async call(method, body) {
    for (;;) {
      let response;
      try {
        response = await fetch(this.url, {
          method, body, headers: { 'Content-Type': 'application/json' },
          signal: AbortSignal.timeout(10000),
        });
      } catch (e) {
        const reason = e.cause ? e.cause.code || e.cause.message : e.message;
        log(`${method} failed (${reason}); retrying`); // the sidecar is restarting
        await sleep(200);
        continue;
      }
      if (response.status === 404 && method === 'GET') return null;
      if (response.ok) return response.text();
      if (response.status < 500) throw new Error(`${method} ${this.url} answered ${response.status}`);
      log(`${method} answered ${response.status}; retrying`);
      await sleep(200);
    }
  }

  // The sealed state: what was committed together with the group's offsets.
  async load() {
    const body = await this.call('GET');
    return new Map(Object.entries(body === null ? {} : JSON.parse(body)));
  }

  async save(counts) {
    await this.call('PUT', toJson(counts));
  }
}

// A map as a JSON object with sorted keys, laid out as Python's json.dumps(sort_keys=True)
// writes it, so the other examples' state and output are byte for byte the same.
function toJson(map) {
  const keys = [...map.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const entries = keys.map((k) => `${JSON.stringify(String(k))}: ${JSON.stringify(map.get(k))}`);
  return `{${entries.join(', ')}}`;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const until = args.until
    ? Object.entries(JSON.parse(args.until)).map(([p, end]) => [Number(p), end]) : null;
  const options = {};
  for (const x of args.X) {
    const [name, value] = [x.slice(0, x.indexOf('=')), x.slice(x.indexOf('=') + 1)];
    options[name] = /^-?\d+$/.test(value) ? Number(value) : value;
  }

  const state = new StateClient(args.http, 'wordcount/counts');
  let counts = await state.load(); // TIDEMARK: start from the sealed state
  let positions = new Map(); // partition -> next offset to read; moves with counts, on commit

  const kafka = new Kafka({
    clientId: 'wordcount',
    brokers: args.bootstrap.split(','), // TIDEMARK: the sidecar
    logLevel: logLevel.WARN,
    logCreator: () => ({ namespace, log: entry }) =>
      log(`kafkajs ${namespace}: ${entry.message}${entry.error ? ` (${entry.error})` : ''}`),
  });
  const admin = kafka.admin();
  const consumer = kafka.consumer({
    groupId: args.group, sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 500,
    ...options,
  });

  let done = null;
  const finishedPromise = new Promise((resolve) => { done = resolve; });
  let finished = false;
  const checkFinished = () => {
    if (!finished && until !== null && until.every(([p, end]) => (positions.get(p) || 0) >= end)) {
      finished = true;
      done();
    }
  };

  async function committedOffsets() {
    for (;;) {
      try {
        const [topic] = await admin.fetchOffsets({ groupId: args.group, topics: [args.topic] });
        return new Map(topic.partitions.filter((p) => Number(p.offset) >= 0)
          .map((p) => [p.partition, Number(p.offset)]));
      } catch (e) {
        log(`fetching the committed offsets failed (${e.message}); retrying`);
        await sleep(200);
      }
    }
  }

  // TIDEMARK: after each join kafkajs resumes its partitions from their committed
  // offsets (OffsetFetch, answered from the sealed view): take the state sealed with
  // them. What was counted since the last commit is replayed. Batches wait for it.
  async function reload(assigned) {
    counts = await state.load();
    positions = await committedOffsets();
    log(`assigned [${assigned.join(', ')}]: state holds ` +
        `${[...counts.values()].reduce((a, b) => a + b, 0)} words; committed offsets ` +
        `${toJson(positions)}`);
    checkFinished();
  }
  let reloaded = Promise.resolve();
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    const assigned = (e.payload.memberAssignment[args.topic] || []).slice().sort((a, b) => a - b);
    reloaded = reloaded.then(() => reload(assigned));
  });
  consumer.on(consumer.events.CRASH, (e) => {
    if (e.payload.restart) {
      log(`consumer crashed (${e.payload.error.message}); kafkajs restarts it`);
    } else {
      log(`consumer crashed for good: ${e.payload.error.stack || e.payload.error}`);
      process.exit(1);
    }
  });

  // TIDEMARK: PUT the whole state, then commit the position of every partition; the
  // commit seals the two together. Counts and positions move only once the commit is
  // sealed. If it fails, the error goes to kafkajs, which rejoins (the sidecar
  // restarted, the group rebalanced: the sealed state is reloaded) or fetches again
  // from the last resolved offset: either way the batch comes again and is counted
  // again on the sealed state, PUT first. The commit is eachBatch's
  // commitOffsetsIfNecessary(offsets), which commits the offsets given and lets
  // kafkajs see a rebalance error as such (consumer.commitOffsets wraps it).
  async function commit(nextCounts, nextPositions, commitOffsets) {
    await state.save(nextCounts);
    await commitOffsets({
      topics: [{
        topic: args.topic,
        partitions: [...nextPositions].map(([partition, offset]) =>
          ({ partition, offset: String(offset) })),
      }],
    });
  }

  await admin.connect();
  await consumer.connect();
  await consumer.subscribe({ topics: [args.topic], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false, // resolved below, once committed
    eachBatch: async (payload) => {
      const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale } = payload;
      await reloaded;
      for (let i = 0; i < batch.messages.length; i += args.batch) {
        if (finished || !isRunning() || isStale()) return; // not resolved: fetched again
        const chunk = batch.messages.slice(i, i + args.batch);
        const position = positions.get(batch.partition);
        // A batch kafkajs hands again after a failed commit may start before the position.
        const fresh = chunk.filter((m) => position === undefined || Number(m.offset) >= position);
        const last = chunk[chunk.length - 1].offset;
        if (fresh.length > 0) {
          log(`batch of ${fresh.length} messages`);
          const nextCounts = new Map(counts);
          for (const m of fresh) {
            const word = m.value.toString();
            nextCounts.set(word, (nextCounts.get(word) || 0) + 1);
          }
          const nextPositions = new Map(positions).set(batch.partition, Number(last) + 1);
          try {
            await commit(nextCounts, nextPositions, commitOffsetsIfNecessary);
          } catch (e) {
            log(`commit failed (${e.type || e.name}: ${e.message}); the batch will be counted again`);
            throw e;
          }
          counts = nextCounts;
          positions = nextPositions;
        }
        resolveOffset(last);
        await heartbeat();
      }
      checkFinished();
    },
  });

  await finishedPromise;
  await consumer.disconnect();
  await admin.disconnect();
  process.stdout.write(`${toJson(counts)}\n`);
}

process.on('SIGINT', () => {
  log('interrupted: what was counted since the last commit will be counted again');
  process.exit(130);
});

main().then(() => process.exit(0), (e) => {
  log(`failed: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
