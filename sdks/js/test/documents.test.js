import assert from "node:assert/strict";
import { test } from "node:test";
import {
  and, arrayRemove, arrayUnion, BaasError, deleteField, increment, maximum, or, serverTimestamp, where,
} from "../dist/index.js";
import { admin, client, collectionWithRules, secretClient, unique } from "./helpers.js";

test("get, set, update with transforms, delete", async () => {
  const app = secretClient();
  const posts = app.collection(unique("posts"));
  const ref = posts.doc("a");
  assert.equal(await ref.get(), null);
  const created = await ref.set({ title: "Hi", tags: ["x"], stats: { views: 1 } });
  assert.deepEqual([created.id, created.version, created.data.title], ["a", 1, "Hi"]);
  const updated = await ref.update({
    title: "Hello",
    tags: arrayUnion("y", "x"),
    stats: { views: increment(5), best: maximum(3) },
    seen: serverTimestamp(),
  });
  assert.equal(updated.version, 2);
  assert.deepEqual(updated.data.tags, ["x", "y"]);
  assert.deepEqual(updated.data.stats, { views: 6, best: 3 });
  assert.equal(updated.data.seen, updated.updateTime);
  const removed = await ref.update({ tags: arrayRemove("x"), title: deleteField() });
  assert.deepEqual(removed.data, { tags: ["y"], stats: { views: 6, best: 3 }, seen: updated.updateTime });
  const fetched = await ref.get({ fields: ["stats.views"] });
  assert.deepEqual(fetched.data, { stats: { views: 6 } });
  assert.equal(fetched.version, 3);
  await ref.delete();
  assert.equal(await ref.get(), null);
  await ref.delete(); // deleting nothing is fine
  const added = await posts.add({ n: 1 });
  assert.match(added.id, /^[A-Za-z0-9_-]{20}$/);
  assert.deepEqual((await posts.doc(added.id).get()).data, { n: 1 });
});

test("preconditions and bad input are typed errors with the API's codes", async () => {
  const app = secretClient();
  const ref = app.doc(unique("pre"), "d");
  await ref.set({ n: 1 }, { createOnly: true });
  const exists = await ref.set({ n: 2 }, { createOnly: true }).catch((e) => e);
  assert.ok(exists instanceof BaasError);
  assert.deepEqual([exists.code, exists.status], ["already_exists", 409]);
  const stale = await ref.update({ n: 3 }, { ifVersion: 7 }).catch((e) => e);
  assert.deepEqual([stale.code, stale.status], ["failed_precondition", 412]);
  assert.deepEqual([stale.details.expected, stale.details.actual], [7, 1]);
  assert.equal((await ref.update({ n: 3 }, { ifVersion: 1 })).version, 2);
  const staleDelete = await ref.delete({ ifVersion: 1 }).catch((e) => e);
  assert.equal(staleDelete.code, "failed_precondition");
  const missing = await app.doc("pre", "nope").update({ n: 1 }).catch((e) => e);
  assert.deepEqual([missing.code, missing.status], ["not_found", 404]);
  const badName = await app.doc("9bad", "x").set({}).catch((e) => e);
  assert.deepEqual([badName.code, badName.status], ["invalid_argument", 400]);
  assert.deepEqual((await ref.get()).data, { n: 3 });
});

test("rules apply to publishable keys with the signed-in user", async () => {
  const name = await collectionWithRules({
    read: "auth != null && resource.data.owner == auth.uid",
    create: "auth != null && request.data.owner == auth.uid",
  });
  const app = client();
  const denied = await app.collection(name).add({ owner: "someone" }).catch((e) => e);
  assert.deepEqual([denied.code, denied.status], ["permission_denied", 403]);
  const user = await app.auth.signInAnonymously();
  const mine = await app.collection(name).add({ owner: user.uid, n: 1 });
  await admin("PUT", `/collections/${name}/documents/theirs`, { data: { owner: "other", n: 2 } });
  assert.deepEqual((await app.doc(name, mine.id).get()).data, { owner: user.uid, n: 1 });
  const foreign = await app.doc(name, "theirs").get().catch((e) => e);
  assert.equal(foreign.code, "permission_denied");
  const { docs } = await app.collection(name).get();
  assert.deepEqual(docs.map((d) => d.id), [mine.id]);
  app.close();
});

test("the query builder mirrors the REST query: filters, order, limit, select, pages", async () => {
  const app = secretClient();
  const name = unique("scores");
  const batch = app.batch();
  for (let i = 0; i < 25; i++) {
    batch.set(name, `d${String(i).padStart(2, "0")}`, { score: i, team: i % 3 === 0 ? "red" : "blue", tags: i % 5 === 0 ? ["five"] : [], author: { name: `n${i}` } });
  }
  assert.equal(batch.size, 25);
  const results = await batch.commit();
  assert.equal(results.length, 25);
  assert.deepEqual(results[0], { id: "d00", version: 1 });
  const scores = app.collection(name);

  const high = scores.where("score", ">=", 10).where("team", "==", "blue").orderBy("score", "desc").limit(4);
  assert.deepEqual(high.toJSON(), {
    where: { and: [{ field: "score", op: ">=", value: 10 }, { field: "team", op: "==", value: "blue" }] },
    orderBy: [{ field: "score", direction: "desc" }],
    limit: 4,
  });
  const first = await high.get();
  assert.deepEqual(first.docs.map((d) => d.data.score), [23, 22, 20, 19]);
  assert.ok(first.nextCursor);
  const second = await high.startAfter(first.nextCursor).get();
  assert.deepEqual(second.docs.map((d) => d.data.score), [17, 16, 14, 13]);
  const pages = [];
  for await (const page of high.pages()) pages.push(page.docs.map((d) => d.data.score));
  assert.deepEqual(pages, [[23, 22, 20, 19], [17, 16, 14, 13], [11, 10]]);
  const all = [];
  for await (const doc of scores.where("tags", "array-contains", "five").limit(2)) all.push(doc.id);
  assert.deepEqual(all, ["d00", "d05", "d10", "d15", "d20"]);
  const either = await scores.where(or(where("score", "<", 2), and(where("score", ">", 22), where("team", "==", "red")))).all();
  assert.deepEqual(either.map((d) => d.data.score), [0, 1, 24]); // 23 is blue
  const inList = await scores.where("score", "in", [3, 4, 99]).select("author.name").get();
  assert.deepEqual(inList.docs.map((d) => d.data), [{ author: { name: "n3" } }, { author: { name: "n4" } }]);
  assert.equal(await scores.where("team", "==", "red").count(), 9);
  assert.equal(await scores.where("team", "==", "red").sum("score"), 0 + 3 + 6 + 9 + 12 + 15 + 18 + 21 + 24);
  assert.equal(await scores.where("score", "<", 4).avg("score"), 1.5);
  assert.equal(await scores.where("score", ">", 100).avg("score"), null);
  const bad = await scores.where("score", "~", 1).get().catch((e) => e);
  assert.equal(bad.code, "invalid_argument");
});

test("a batch is all or nothing; the error names the failing write", async () => {
  const app = secretClient();
  const name = unique("batch");
  await app.doc(name, "keep").set({ v: 1 });
  const error = await app.batch()
    .create(name, { a: 1 }, "new")
    .update(name, "keep", { v: 2 })
    .delete(name, "keep", { ifVersion: 1 }) // it is at version 2 by then
    .commit()
    .catch((e) => e);
  assert.equal(error.code, "failed_precondition");
  assert.equal(error.details.index, 2);
  assert.equal(await app.doc(name, "new").get(), null);
  assert.equal((await app.doc(name, "keep").get()).version, 1);
  const ok = await app.batch().create(name, { auto: true }).update(name, "keep", { v: increment(1) }).delete(name, "keep2").commit();
  assert.equal(ok.length, 3);
  assert.match(ok[0].id, /^[A-Za-z0-9_-]{20}$/);
  assert.deepEqual(ok.slice(1), [{ id: "keep", version: 2 }, { id: "keep2", version: null }]);
  assert.deepEqual((await app.doc(name, "keep").get()).data, { v: 2 });
});

test("another project's key reaches nothing here", async () => {
  const app = client({ projectId: "beta-app" }); // this key belongs to the test project
  const error = await app.doc("any", "x").get().catch((e) => e);
  assert.deepEqual([error.code, error.status], ["unauthenticated", 401]);
});
