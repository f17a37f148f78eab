#!/usr/bin/env node
// @confluentinc/kafka-javascript (npm, librdkafka 2.15.1 inside; pinned by
// scripts/setup-modern-kafka) driver for the client matrix, through its
// KafkaJS-compatible promisified API. NODE_PATH must hold the folder
// scripts/setup-node-clients prints.
//
//   confluent_kafka_javascript_client.js produce --bootstrap B --topic T --count N [--prefix P]
//   confluent_kafka_javascript_client.js consume --bootstrap B --topic T --group G [--count N]
//
// Same contract as the other drivers: values on stdout one per line,
// assignments on stderr ("assigned: T [p], ..."), commit of what was printed
// before leaving the group on N values or SIGTERM/SIGINT, exit 0.
'use strict';

const { librdkafkaVersion, KafkaJS: { Kafka, logLevel } } = require('@confluentinc/kafka-javascript');

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

const logger = {
  level: logLevel.WARN,
  setLogLevel(l) { this.level = Math.min(l, logLevel.WARN); },
  namespace() { return this; },
  error(m) { if (this.level >= logLevel.ERROR) log('ckjs error:', m); },
  warn(m) { if (this.level >= logLevel.WARN) log('ckjs warn:', m); },
  info() {},
  debug() {},
};

function client(args) {
  return new Kafka({ kafkaJS: { clientId: 'tidemark-matrix-ckjs', brokers: args.bootstrap.split(','), logger } });
}

async function produce(args) {
  const producer = client(args).producer({ kafkaJS: { acks: -1 } });
  await producer.connect();
  const messages = [];
  for (let i = 0; i < args.count; i++) messages.push({ key: String(i), value: `${args.prefix}${i}` });
  await producer.send({ topic: args.topic, messages });
  await producer.disconnect();
  log(`produced ${args.count}`);
}

const describe = (assignment) =>
  assignment.map((tp) => `${tp.topic} [${tp.partition}]`).join(', ');

async function consume(args) {
  const processed = new Map(); // partition -> next offset to commit
  const consumer = client(args).consumer({
    kafkaJS: {
      groupId: args.group, fromBeginning: true, autoCommit: false,
      sessionTimeout: 3000, heartbeatInterval: 500,
    },
    rebalance_cb: (err, assignment) => {
      const assigned = err.code === -175; // ERR__ASSIGN_PARTITIONS, else ERR__REVOKE_PARTITIONS
      if (!assigned) for (const tp of assignment) processed.delete(tp.partition); // no longer ours
      log(assigned ? 'assigned:' : 'revoked:', describe(assignment));
    },
  });
  let seen = 0;
  let stopping = null;

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
  await new Promise((resolve, reject) => {
    const finish = () => stop().then(resolve, reject);
    process.on('SIGTERM', finish);
    process.on('SIGINT', finish);
    consumer.connect()
      .then(() => consumer.subscribe({ topics: [args.topic] }))
      .then(() => consumer.run({
        eachMessage: async ({ partition, message }) => {
          if (stopping || (args.count !== undefined && seen >= args.count)) return;
          process.stdout.write(`${message.value.toString()}\n`);
          processed.set(partition, BigInt(message.offset) + 1n);
          seen += 1;
          if (args.count !== undefined && seen >= args.count) finish();
        },
      }))
      .catch(reject);
  });
}

const args = parseArgs(process.argv.slice(2));
log('librdkafka', librdkafkaVersion);
(args.mode === 'produce' ? produce(args) : consume(args))
  .then(() => process.exit(0))
  .catch((e) => { log('failed:', e && e.stack ? e.stack : e); process.exit(1); });
