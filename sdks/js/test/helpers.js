// Shared by the node tests: the live server the test run started (its URL and keys come
// from the environment), a secret-key admin for setup, and small waiting helpers.
import assert from "node:assert/strict";
import net from "node:net";
import { createClient, memoryPersistence } from "../dist/index.js";

function required(name) {
  const value = process.env[name];
  assert.ok(value, `${name} must be set (the pytest module tests/sdks/test_js_sdk.py sets it)`);
  return value;
}

export const URL_ = required("BAAS_URL");
export const PROJECT = required("BAAS_PROJECT_ID");
export const PK = required("BAAS_PUBLISHABLE_KEY");
export const SK = required("BAAS_SECRET_KEY");
export const TOKEN_LIFETIME = Number(process.env.BAAS_TOKEN_LIFETIME ?? "900");

let counter = 0;
/** A name no other test uses (collections, buckets, emails). */
export const unique = (prefix) => `${prefix}${Date.now().toString(36)}${(++counter).toString(36)}${Math.random().toString(36).slice(2, 6)}`;

export function client(options = {}) {
  return createClient({ url: URL_, projectId: PROJECT, apiKey: PK, persistence: memoryPersistence(), ...options });
}

export function secretClient(options = {}) {
  return client({ apiKey: SK, ...options });
}

/** A raw call with the secret key, for setup and for checking what the server holds. */
export async function admin(method, path, body) {
  const response = await fetch(`${URL_}/v1/projects/${PROJECT}${path}`, {
    method,
    headers: { "X-Api-Key": SK, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null, headers: response.headers };
}

export async function collectionWithRules(rules) {
  const name = unique("c");
  const answer = await admin("PUT", `/collections/${name}`, { rules });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return name;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Wait until `predicate()` is true (polling), failing with `what` after `timeoutMs`. */
export async function until(predicate, what, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A TCP proxy to the server whose connections the test can cut, as a network drop would. */
export async function cuttableProxy() {
  const target = new globalThis.URL(URL_);
  const sockets = new Set();
  let refusing = false;
  let stalling = false;
  const pairs = [];
  const server = net.createServer((inbound) => {
    if (refusing) {
      inbound.resetAndDestroy ? inbound.resetAndDestroy() : inbound.destroy();
      return;
    }
    if (stalling) {
      sockets.add(inbound); // accepted, never answered
      inbound.on("error", () => undefined);
      return;
    }
    const outbound = net.connect(Number(target.port), target.hostname);
    sockets.add(inbound);
    sockets.add(outbound);
    pairs.push([inbound, outbound]);
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    const end = () => {
      inbound.destroy();
      outbound.destroy();
      sockets.delete(inbound);
      sockets.delete(outbound);
    };
    inbound.on("error", end).on("close", end);
    outbound.on("error", end).on("close", end);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    /** Destroy every open connection (the sockets see a reset, not a close handshake). */
    cut() {
      const count = sockets.size;
      for (const socket of sockets) socket.resetAndDestroy ? socket.resetAndDestroy() : socket.destroy();
      sockets.clear();
      pairs.length = 0;
      return count;
    },
    /** Stop carrying bytes on the open connections without closing them (a silent network). */
    freeze() {
      for (const [inbound, outbound] of pairs.splice(0)) {
        inbound.unpipe(outbound);
        outbound.unpipe(inbound);
        inbound.pause();
        outbound.pause();
      }
    },
    /** While true, new connections are accepted and never answered. */
    stall(value) {
      stalling = value;
    },
    /** While true, every new connection is reset at once (the server looks down). */
    refuse(value) {
      refusing = value;
    },
    close: () => new Promise((resolve) => { for (const s of sockets) s.destroy(); server.close(resolve); }),
  };
}
