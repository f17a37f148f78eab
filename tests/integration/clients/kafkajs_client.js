#!/usr/bin/env node
// kafkajs (pure JavaScript, npm, pinned by scripts/setup-node-clients) driver
// for the client matrix. NODE_PATH must hold the folder that script prints.
//
//   kafkajs_client.js produce --bootstrap B --topic T --count N [--prefix P]
//   kafkajs_client.js consume --bootstrap B --topic T --group G [--count N]
//
// Same contract as the Python drivers: values on stdout one per line,
// assignments on stderr ("assigned: T [p], ..."), commit of what was printed
// before leaving the group on N values or SIGTERM/SIGINT, exit 0.
'use strict';

const { Kafka, logLevel, Partitioners, PartitionAssigners } = require('kafkajs');

// The round-robin assigner, run by the group leader 0.3 s late. librdkafka's mock
// coordinator completes a rebalance as soon as the leader's SyncGroup arrives and
// answers a follower's SyncGroup that comes after it with INVALID_REQUEST (a real
// broker waits for it); kafkajs's leader otherwise often wins that race.
const patientRoundRobin = (config) => {
  const assigner = PartitionAssigners.roundRobin(config);
  return {
    ...assigner,
    assign: async (group) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      return assigner.assign(group);
    },
  };
};

function parseArgs(argv) {
  const args = { mode: argv[0], prefix: 'v' };
  for (let i = 1; i < argv.length; i += 2) args[argv[i].replace(/^--/, '')] = argv[i + 1];
  if (args.count !== undefined) args.count = Number(args.count);
  if (!['produce', 'consume'].includes(args.mode) || !args.bootstrap || !args.topic) {
    process.stderr.write('usage: produce|consume --bootstrap B --topic T [--group G] [--count N] [--prefix P]\n');
    process.exit(2);
  }
  return args;
}

const log = (...words) => process.stderr.write(words.join(' ') + '\n');

function client(args) {
  return new Kafka({
    clientId: 'tidemark-matrix-kafkajs',
    brokers: args.bootstrap.split(','),
    logLevel: logLevel.WARN,
    logCreator: () => ({ namespace, log: entry }) =>
      log(`kafkajs ${namespace}: ${entry.message}${entry.error ? ' ' + entry.error : ''}`),
  });
}

async function produce(args) {
  const producer = client(args).producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const messages = [];
  for (let i = 0; i < args.count; i++) messages.push({ key: String(i), value: `${args.prefix}${i}` });
  await producer.send({ topic: args.topic, acks: -1, messages });
  await producer.disconnect();
  log(`produced ${args.count}`);
}

async function consume(args) {
  const kafka = client(args);
  const processed = new Map(); // partition -> next offset to commit
  let consumer = null;
  let seen = 0;
  let stopping = null;
  let fail = null;

  const stop = () => {
    if (stopping) return stopping;
    stopping = (async () => {
      const offsets = [...processed].map(([partition, offset]) =>
        ({ topic: args.topic, partition, offset: String(offset) }));
      if (offsets.length) await consumer.commitOffsets(offsets);
      await consumer.disconnect();
      log(`consumed ${seen}`);
    })();
    return stopping;
  };

  // kafkajs gives up for good on a non-retriable error during a rebalance (such as
  // the mock's INVALID_REQUEST above, should the race still be lost); like a
  // supervised application, rejoin as a new member.
  const startMember = async () => {
    consumer = kafka.consumer({
      groupId: args.group, sessionTimeout: 3000, heartbeatInterval: 500, maxWaitTimeInMs: 200,
      partitionAssigners: [patientRoundRobin],
    });
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      const assignment = (e.payload.memberAssignment[args.topic] || []).slice().sort((a, b) => a - b);
      for (const p of [...processed.keys()]) if (!assignment.includes(p)) processed.delete(p);
      log('assigned:', assignment.map((p) => `${args.topic} [${p}]`).join(', '));
    });
    consumer.on(consumer.events.CRASH, (e) => {
      if (e.payload.restart || stopping) return;
      log('crashed:', e.payload.error.message, '- rejoining as a new member');
      startMember().catch(fail);
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [args.topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        if (stopping || (args.count !== undefined && seen >= args.count)) return;
        process.stdout.write(`${message.value.toString()}\n`);
        processed.set(partition, BigInt(message.offset) + 1n);
        seen += 1;
        if (args.count !== undefined && seen >= args.count) finish();
      },
    });
  };

  let finish = null;
  await new Promise((resolve, reject) => {
    fail = reject;
    finish = () => stop().then(resolve, reject);
    process.on('SIGTERM', finish);
    process.on('SIGINT', finish);
    startMember().catch(reject);
  });
}

const args = parseArgs(process.argv.slice(2));
(args.mode === 'produce' ? produce(args) : consume(args))
  .then(() => process.exit(0))
  .catch((e) => { log('failed:', e && e.stack ? e.stack : e); process.exit(1); });
