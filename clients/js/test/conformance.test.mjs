// tests/conformance/cases.json through the JS client against a real
// `tidemark serve` (binaries from $TIDEMARK_BUILD_DIR): one embedded cluster
// (1 broker, topic demo:6) and one sidecar for all cases, a fresh client per case.

import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, test } from "node:test";

import { TidemarkClient } from "../src/index.js";
import { casesPath, loadSuite, runCase } from "../testkit/conformance.mjs";
import { EmbeddedKafka, Sidecar } from "../testkit/sidecar.mjs";

const suite = loadSuite();

describe(`conformance (${path.relative(process.cwd(), casesPath()) || casesPath()})`, () => {
  let kafka;
  let sidecar;

  before(async () => {
    kafka = await EmbeddedKafka.start({ brokers: 1, topics: ["demo:6"] });
    sidecar = await Sidecar.start({
      upstream: kafka.bootstrap,
      settings: suite.sidecar.settings,
      token: suite.sidecar.token,
    });
  }, { timeout: 90_000 });

  after(async () => {
    await sidecar?.stop();
    await kafka?.stop();
  }, { timeout: 60_000 });

  for (const kase of suite.cases) {
    test(kase.name, { timeout: 60_000 }, () => runCase(kase, suite, sidecar.baseUrl));
  }

  // Beyond cases.json: the token read from a file (with the newline a
  // hand-written Secret has) is accepted by the real sidecar.
  test("token_file_client", { timeout: 30_000 }, async () => {
    const tokenFile = path.join(sidecar.workdir, "client-token");
    await writeFile(tokenFile, `${suite.sidecar.token}\n`);
    const client = new TidemarkClient({ baseUrl: sidecar.baseUrl, tokenFile });
    const etag = await client.putState("js_token_file/k", "v");
    const got = await client.getState("js_token_file/k", { view: "staged" });
    assert.equal(got.value.toString(), "v");
    assert.equal(got.etag, etag);
  });
});
