import assert from "node:assert/strict";
import { test } from "node:test";
import { BaasError } from "../dist/index.js";
import { admin, client, unique } from "./helpers.js";

const ECHO = `
def handler(event, ctx):
    return {"echo": event.data, "uid": (event.auth or {}).get("uid")}
`;
const FAILS = `
def handler(event, ctx):
    raise ValueError("no such order: " + str(event.data))
`;
const SLEEPS = `
import time
def handler(event, ctx):
    time.sleep(30)
`;

async function deploy(source, fields = {}) {
  const name = unique("fn");
  const answer = await admin("POST", "/functions", { name, source, ...fields });
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  return name;
}

test("call(name, data) answers the function's result, with the caller's auth", async () => {
  const echo = await deploy(ECHO);
  const app = client();
  assert.deepEqual(await app.functions.call(echo, { n: 1, s: "é" }), { echo: { n: 1, s: "é" }, uid: null });
  const user = await app.auth.signInAnonymously();
  assert.deepEqual(await app.functions.call(echo, [1, 2]), { echo: [1, 2], uid: user.uid });
  assert.deepEqual(await app.functions.call(echo), { echo: null, uid: user.uid });
  app.close();
});

test("a function that raises, one past its timeout, and an unknown one are typed errors", async () => {
  const app = client();
  const fails = await deploy(FAILS);
  const raised = await app.functions.call(fails, "o-9").catch((e) => e);
  assert.ok(raised instanceof BaasError);
  assert.deepEqual([raised.code, raised.status, raised.message], ["function_error", 422, "no such order: o-9"]);
  assert.equal(typeof raised.details.executionId, "string");
  const sleeps = await deploy(SLEEPS, { timeoutSeconds: 1 });
  const late = await app.functions.call(sleeps).catch((e) => e);
  assert.deepEqual([late.code, late.status], ["deadline_exceeded", 504]);
  const missing = await app.functions.call(unique("nope")).catch((e) => e);
  assert.deepEqual([missing.code, missing.status], ["not_found", 404]);
});
