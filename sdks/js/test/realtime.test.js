import assert from "node:assert/strict";
import { test } from "node:test";
import { admin, client, collectionWithRules, cuttableProxy, secretClient, sleep, TOKEN_LIFETIME, unique, until } from "./helpers.js";

const put = (collection, id, data) => admin("PUT", `/collections/${collection}/documents/${id}`, { data });

test("document, collection and query subscriptions: first snapshot, then changes", async () => {
  const name = await collectionWithRules({ read: "true" });
  await put(name, "a", { score: 1 });
  await put(name, "b", { score: 9 });
  const app = client();
  const docSnaps = [];
  const colSnaps = [];
  const querySnaps = [];
  const stopDoc = app.doc(name, "a").onSnapshot((s) => docSnaps.push(s));
  const stopCol = app.collection(name).onSnapshot((s) => colSnaps.push(s));
  const stopQuery = app.collection(name).where("score", ">", 5).onSnapshot((s) => querySnaps.push(s));
  await until(() => docSnaps.length && colSnaps.length && querySnaps.length, "three first snapshots");
  assert.deepEqual([docSnaps[0].exists, docSnaps[0].doc.data], [true, { score: 1 }]);
  assert.deepEqual(colSnaps[0].docs.map((d) => d.id), ["a", "b"]);
  assert.deepEqual(colSnaps[0].changes.map((c) => [c.type, c.doc.id]), [["added", "a"], ["added", "b"]]);
  assert.deepEqual(querySnaps[0].docs.map((d) => d.id), ["b"]);

  await put(name, "a", { score: 7 }); // a enters the query
  await put(name, "b", { score: 2 }); // b leaves it
  await admin("DELETE", `/collections/${name}/documents/a`);
  await until(() => docSnaps.length === 3 && colSnaps.length === 4 && querySnaps.length === 4, "the changes");
  assert.deepEqual(docSnaps.map((s) => s.exists), [true, true, false]);
  assert.deepEqual(docSnaps[1].doc.data, { score: 7 });
  assert.deepEqual(colSnaps.slice(1).map((s) => s.changes.map((c) => [c.type, c.doc.id])), [[["modified", "a"]], [["modified", "b"]], [["removed", "a"]]]);
  assert.deepEqual(colSnaps[3].docs.map((d) => [d.id, d.data.score]), [["b", 2]]);
  assert.deepEqual(querySnaps.slice(1).map((s) => s.changes.map((c) => [c.type, c.doc.id])), [[["added", "a"]], [["removed", "b"]], [["removed", "a"]]]);
  assert.deepEqual(querySnaps[3].docs, []);
  // seqs grow by change, and snapshots carry them
  const seqs = colSnaps.map((s) => s.seq);
  assert.deepEqual([...seqs].sort((x, y) => x - y), seqs);
  stopDoc();
  stopQuery();
  await put(name, "c", { score: 3 });
  await until(() => colSnaps.length === 5, "the collection still follows");
  assert.equal(docSnaps.length, 3);
  assert.equal(querySnaps.length, 4);
  stopCol();
  await sleep(50);
  assert.equal(app.realtime.connected, false); // the last unsubscribe closes the socket
  app.close();
});

test("a refused subscription is a typed error", async () => {
  const name = await collectionWithRules({ create: "true" }); // no list rule: nobody may follow it
  const app = client();
  const error = await new Promise((resolve) => app.collection(name).onSnapshot(() => resolve(null), resolve));
  assert.deepEqual([error.code, error.name], ["permission_denied", "BaasError"]);
  app.close();
});

test("resume: cutting the socket during a burst of writes loses and doubles nothing", async () => {
  const name = await collectionWithRules({ read: "true" });
  const proxy = await cuttableProxy();
  const app = client({ url: proxy.url, realtime: { initialBackoffMs: 50, maxBackoffMs: 400 } });
  const states = [];
  app.realtime.onStateChange((s) => states.push(s));
  const snapshots = [];
  app.collection(name).onSnapshot((s) => snapshots.push(s));
  await until(() => snapshots.length === 1, "the first snapshot");
  const start = snapshots[0].seq;

  // 300 sequential writes: 30 documents, each created, updated 8 times, and every third deleted
  const expected = [];
  let cuts = 0;
  const writer = secretClient();
  for (let round = 0; round < 10; round++) {
    for (let i = 0; i < 30; i++) {
      const id = `d${i}`;
      const step = expected.filter((e) => e[1] === id).length;
      if (round === 9 && i % 3 === 0) {
        await writer.doc(name, id).delete();
        expected.push(["removed", id, step]); // a removal carries the last version
      } else {
        await writer.doc(name, id).set({ round, i });
        expected.push([step === 0 ? "added" : "modified", id, step + 1]);
      }
      const n = expected.length;
      if (n === 60 || n === 150 || n === 240) cuts += proxy.cut() > 0 ? 1 : 0;
    }
  }
  await until(() => snapshots.reduce((k, s) => k + s.changes.length, 0) - snapshots[0].changes.length === expected.length, `${expected.length} changes`, 30000);
  const events = snapshots.slice(1).flatMap((s) => s.changes);
  // the exact sequence: one event per write, in write order, dense in seq
  assert.deepEqual(events.map((c) => [c.type, c.doc.id, c.doc.version]), expected);
  assert.deepEqual(events.map((c) => c.seq), expected.map((_, k) => start + k + 1));
  // the final state is the server's
  const server = await writer.collection(name).all();
  const final = snapshots.at(-1).docs;
  assert.deepEqual(final.map((d) => [d.id, d.version, d.data]), server.map((d) => [d.id, d.version, d.data]).sort((a, b) => (a[0] < b[0] ? -1 : 1)));
  assert.equal(final.length, 20);
  assert.equal(cuts, 3);
  assert.ok(states.filter((s) => s === "connected").length >= 2, `reconnected after cuts: ${states}`);
  await sleep(300); // nothing more arrives
  assert.equal(snapshots.slice(1).flatMap((s) => s.changes).length, expected.length);
  app.close();
  writer.close();
  await proxy.close();
});

test("reconnects back off exponentially while the server is unreachable, then resume", async () => {
  const name = await collectionWithRules({ read: "true" });
  const proxy = await cuttableProxy();
  const app = client({ url: proxy.url, realtime: { initialBackoffMs: 100, maxBackoffMs: 800 } });
  const attempts = [];
  app.realtime.onStateChange((s) => s === "connecting" && attempts.push(Date.now()));
  const snapshots = [];
  app.collection(name).onSnapshot((s) => snapshots.push(s));
  await until(() => snapshots.length === 1, "the first snapshot");
  proxy.refuse(true);
  proxy.cut();
  const writer = secretClient();
  for (let i = 0; i < 5; i++) await writer.doc(name, `while-down-${i}`).set({ i });
  await until(() => attempts.length >= 7, "six reconnect attempts", 15000);
  proxy.refuse(false);
  await until(() => snapshots.length === 6, "the changes made while down", 15000);
  const gaps = attempts.slice(1, 7).map((t, k) => t - attempts[k]);
  // gaps[0] runs from the first connection to the first retry (100 ms after the cut); then
  // the k-th retry waits 100·2^k ms (jitter: 50-100 %), capped at 800
  gaps.slice(1).forEach((gap, i) => {
    const k = i + 1;
    const nominal = Math.min(800, 100 * 2 ** k);
    assert.ok(gap >= nominal * 0.5 - 5 && gap <= nominal + 500, `retry ${k + 1}: ${gap} ms for a nominal ${nominal} ms (${gaps})`);
  });
  assert.deepEqual(snapshots.slice(1).map((s) => s.changes.map((c) => [c.type, c.doc.id])), [0, 1, 2, 3, 4].map((i) => [["added", `while-down-${i}`]]));
  app.close();
  writer.close();
  await proxy.close();
});

test("a silent network is noticed by the pings, a stalled handshake by the connect timeout", async () => {
  const name = await collectionWithRules({ read: "true" });
  const proxy = await cuttableProxy();
  const app = client({ url: proxy.url, realtime: { initialBackoffMs: 50, maxBackoffMs: 200, pingIntervalMs: 200, connectTimeoutMs: 300 } });
  const states = [];
  app.realtime.onStateChange((s) => states.push(s));
  const snapshots = [];
  app.collection(name).onSnapshot((s) => snapshots.push(s));
  await until(() => snapshots.length === 1, "the first snapshot");
  proxy.stall(true);
  proxy.freeze(); // no close, no reset: only silence
  await admin("PUT", `/collections/${name}/documents/during`, { data: { n: 1 } });
  await until(() => states.filter((s) => s === "connecting").length >= 3, "attempts that stall and time out", 5000);
  assert.equal(snapshots.length, 1);
  proxy.stall(false);
  await until(() => snapshots.length === 2, "the change made during the silence");
  assert.deepEqual(snapshots[1].changes.map((c) => [c.type, c.doc.id]), [["added", "during"]]);
  assert.equal(app.realtime.connected, true);
  app.close();
  await proxy.close();
});

test("token refresh during a long subscription: the socket is re-authenticated, events keep coming", async () => {
  assert.ok(TOKEN_LIFETIME <= 10, "the test server runs with short-lived tokens");
  const name = await collectionWithRules({ read: "auth != null" });
  const app = client();
  const tokens = [];
  app.auth.onTokenChanged((t) => tokens.push(t));
  await app.auth.signInAnonymously();
  const states = [];
  app.realtime.onStateChange((s) => states.push(s));
  const snapshots = [];
  app.collection(name).onSnapshot((s) => snapshots.push(s));
  await until(() => snapshots.length === 1, "the first snapshot");
  // writes over more than two token lifetimes; each must arrive while its token is valid
  const writes = Math.ceil((TOKEN_LIFETIME * 2.5 * 1000) / 250);
  for (let i = 0; i < writes; i++) {
    await put(name, `w${i}`, { i });
    await sleep(250);
  }
  await until(() => snapshots.length === writes + 1, `${writes} events`, 10000);
  assert.deepEqual(snapshots.slice(1).map((s) => s.changes[0].doc.id), Array.from({ length: writes }, (_, i) => `w${i}`));
  assert.ok(tokens.length >= 3, `refreshed at least twice (${tokens.length - 1})`);
  assert.deepEqual(states, ["connecting", "connected"]); // one socket throughout
  // the first token has expired: without re-authentication the rule would deny
  const expired = await fetch(`${process.env.BAAS_URL}/v1/projects/${process.env.BAAS_PROJECT_ID}/auth/me`, {
    headers: { "X-Api-Key": process.env.BAAS_PUBLISHABLE_KEY, Authorization: `Bearer ${tokens[0]}` },
  });
  assert.equal(expired.status, 401);
  app.close();
});

test("a token refreshed after it expired: the server held the changes back and replays them", async () => {
  const name = await collectionWithRules({ read: "auth != null" });
  // refreshes a second after expiry, as a suspended tab or app would
  const app = client({ refreshMarginSeconds: -1 });
  await app.auth.signInAnonymously();
  const states = [];
  app.realtime.onStateChange((s) => states.push(s));
  const snapshots = [];
  app.collection(name).onSnapshot((s) => snapshots.push(s));
  await until(() => snapshots.length === 1, "the first snapshot");
  const writes = Math.ceil((TOKEN_LIFETIME * 1.5 * 1000) / 200);
  for (let i = 0; i < writes; i++) {
    await put(name, `w${i}`, { i });
    await sleep(200);
  }
  await until(() => snapshots.length === writes + 1, `${writes} events`, 15000);
  const seqs = snapshots.slice(1).map((s) => s.changes[0].seq);
  assert.deepEqual(snapshots.slice(1).map((s) => s.changes[0].doc.id), Array.from({ length: writes }, (_, i) => `w${i}`));
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
  assert.deepEqual(states, ["connecting", "connected"]); // one socket throughout
  app.close();
});

test("signing in as someone else restarts subscriptions under the new user's rules", async () => {
  const name = await collectionWithRules({ read: "auth != null && resource.data.owner == auth.uid" });
  const app = client();
  const first = await app.auth.signInAnonymously();
  await put(name, "one", { owner: first.uid });
  const snapshots = [];
  app.collection(name).onSnapshot((s) => snapshots.push(s));
  await until(() => snapshots.length === 1, "first snapshot");
  assert.deepEqual(snapshots[0].docs.map((d) => d.id), ["one"]);
  const other = client();
  const second = await other.auth.signInAnonymously();
  await put(name, "two", { owner: second.uid });
  const session = JSON.parse(await other.auth["options"].persistence.getItem(`baas:${process.env.BAAS_PROJECT_ID}:session`));
  const fragment = new URLSearchParams({ accessToken: session.accessToken, refreshToken: session.refreshToken, expiresIn: "4" });
  other.close();
  await app.auth.completeRedirect(`https://app.example/#${fragment}`); // now signed in as the second user
  await until(() => snapshots.at(-1).docs.map((d) => d.id).join() === "two", "the second user's view");
  const last = snapshots.at(-1);
  assert.deepEqual(last.changes.map((c) => [c.type, c.doc.id]).sort(), [["added", "two"], ["removed", "one"]]);
  app.close();
});

test("the platform's fetch and WebSocket can be given (React Native, older Node)", async () => {
  const name = await collectionWithRules({ read: "true" });
  const urls = [];
  const fetched = [];
  class CountingWebSocket extends globalThis.WebSocket {
    constructor(url) {
      super(url);
      urls.push(url);
    }
  }
  const app = client({
    fetch: (input, init) => {
      fetched.push(`${init?.method ?? "GET"} ${new URL(input).pathname}`);
      return fetch(input, init);
    },
    realtime: { WebSocket: CountingWebSocket },
  });
  await app.doc(name, "x").get();
  const snapshots = [];
  app.doc(name, "x").onSnapshot((s) => snapshots.push(s));
  await until(() => snapshots.length === 1, "the first snapshot");
  assert.deepEqual(snapshots[0].exists, false);
  assert.deepEqual(fetched, [`GET /v1/projects/${process.env.BAAS_PROJECT_ID}/collections/${name}/documents/x`]);
  assert.equal(urls.length, 1);
  assert.match(urls[0], new RegExp(`^ws://.+/v1/projects/${process.env.BAAS_PROJECT_ID}/realtime\\?apiKey=pk_`));
});
