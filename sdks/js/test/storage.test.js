import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { BaasError } from "../dist/index.js";
import { admin, client, secretClient, unique } from "./helpers.js";

async function bucket(extra = {}) {
  const name = unique("b");
  const answer = await admin("POST", "/buckets", { name, ...extra });
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  return name;
}

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

test("upload with progress, metadata, download, ranges, signed URLs, delete", async () => {
  const name = await bucket({ rules: { read: "auth != null", write: "auth != null" } });
  const app = client();
  const user = await app.auth.signInAnonymously();
  const files = app.storage.bucket(name);
  const bytes = new Uint8Array(300 * 1024).map((_, i) => (i * 7) % 251);
  const progress = [];
  const stored = await files.upload("photos/a b/ü.bin", bytes, {
    metadata: { caption: "Día 1, ünïcode" },
    onProgress: (p) => progress.push(p),
  });
  assert.deepEqual(
    [stored.path, stored.size, stored.contentType, stored.sha256, stored.owner, stored.metadata],
    ["photos/a b/ü.bin", bytes.length, "application/octet-stream", sha256(bytes), user.uid, { caption: "Día 1, ünïcode" }],
  );
  assert.ok(progress.length >= 4, `progress reported in steps (${progress.length})`);
  assert.deepEqual(progress.at(-1), { loaded: bytes.length, total: bytes.length });
  assert.deepEqual(progress.map((p) => p.loaded), [...progress.map((p) => p.loaded)].sort((a, b) => a - b));

  assert.deepEqual(await files.download("photos/a b/ü.bin"), bytes);
  assert.deepEqual(await files.download("photos/a b/ü.bin", { range: [10, 19] }), bytes.subarray(10, 20));
  assert.deepEqual(await files.download("photos/a b/ü.bin", { range: [bytes.length - 5] }), bytes.subarray(bytes.length - 5));
  const meta = await files.getMetadata("photos/a b/ü.bin");
  assert.deepEqual([meta.sha256, meta.size, meta.metadata.caption], [sha256(bytes), bytes.length, "Día 1, ünïcode"]);

  const blobProgress = [];
  const big = new Blob([bytes, bytes], { type: "application/x-test" });
  const fromBlob = await files.upload("photos/big.bin", big, { onProgress: (p) => blobProgress.push(p) });
  assert.deepEqual([fromBlob.size, fromBlob.contentType], [2 * bytes.length, "application/x-test"]);
  assert.deepEqual(blobProgress.at(-1), { loaded: 2 * bytes.length, total: 2 * bytes.length });
  const empty = [];
  assert.equal((await files.upload("photos/empty", new Uint8Array(0), { onProgress: (p) => empty.push(p) })).size, 0);
  assert.deepEqual(empty, [{ loaded: 0, total: 0 }]);
  const blob = await files.upload("notes/hello.txt", new Blob(["hello world"], { type: "text/plain" }));
  assert.deepEqual([blob.contentType, blob.size], ["text/plain", 11]);
  const text = await files.upload("notes/plain.txt", "héllo");
  assert.deepEqual([text.contentType, text.size], ["text/plain; charset=utf-8", 6]);
  const asBlob = await files.downloadBlob("notes/hello.txt");
  assert.equal(asBlob.type, "text/plain");
  assert.equal(await asBlob.text(), "hello world");

  const signed = await files.getSignedUrl("notes/hello.txt", 60);
  assert.ok(Date.parse(signed.expireTime) > Date.now());
  const viaUrl = await fetch(signed.url); // no key, no token
  assert.equal(viaUrl.status, 200);
  assert.equal(await viaUrl.text(), "hello world");

  await files.delete("notes/hello.txt");
  const gone = await files.download("notes/hello.txt").catch((e) => e);
  assert.ok(gone instanceof BaasError);
  assert.deepEqual([gone.code, gone.status], ["not_found", 404]);
  const badRange = await files.download("notes/plain.txt", { range: [100, 200] }).catch((e) => e);
  assert.equal(badRange.code, "range_not_satisfiable");
  app.close();
});

test("listing: folders, pages and every object", async () => {
  const name = await bucket();
  const files = secretClient().storage.bucket(name);
  for (const path of ["a/1.txt", "a/2.txt", "a/deep/3.txt", "b/4.txt", "top.txt"]) await files.upload(path, path);
  const root = await files.list({ delimiter: "/" });
  assert.deepEqual(root.objects.map((o) => o.path), ["top.txt"]);
  assert.deepEqual(root.prefixes, ["a/", "b/"]);
  assert.equal(root.nextCursor, null);
  const inA = await files.list({ prefix: "a/", delimiter: "/" });
  assert.deepEqual([inA.objects.map((o) => o.path), inA.prefixes], [["a/1.txt", "a/2.txt"], ["a/deep/"]]);
  const page = await files.list({ limit: 2 });
  assert.deepEqual(page.objects.map((o) => o.path), ["a/1.txt", "a/2.txt"]);
  assert.ok(page.nextCursor);
  const all = [];
  for await (const object of files.listAll({ limit: 2 })) all.push(object.path);
  assert.deepEqual(all, ["a/1.txt", "a/2.txt", "a/deep/3.txt", "b/4.txt", "top.txt"]);
});

test("bucket limits, preconditions and rules are typed errors", async () => {
  const name = await bucket({ maxFileSize: 1000, allowedContentTypes: ["image/*", "text/plain"], rules: { read: "true", write: "auth != null" } });
  const anonymous = client().storage.bucket(name);
  const denied = await anonymous.upload("x.txt", "x", { contentType: "text/plain" }).catch((e) => e);
  assert.deepEqual([denied.code, denied.status], ["permission_denied", 403]);
  const app = client();
  await app.auth.signInAnonymously();
  const files = app.storage.bucket(name);
  const tooBig = await files.upload("big.png", new Uint8Array(1001), { contentType: "image/png" }).catch((e) => e);
  assert.deepEqual([tooBig.code, tooBig.status, tooBig.details.limitBytes], ["payload_too_large", 413, 1000]);
  const streamedTooBig = await files.upload("big2.png", new Uint8Array(5000), { contentType: "image/png", onProgress: () => {} }).catch((e) => e);
  assert.deepEqual([streamedTooBig.code, streamedTooBig.status], ["payload_too_large", 413]);
  const wrongType = await files.upload("x.html", "<b>", { contentType: "text/html" }).catch((e) => e);
  assert.deepEqual([wrongType.code, wrongType.status], ["unsupported_media_type", 415]);
  const first = await files.upload("once.txt", "one", { contentType: "text/plain", createOnly: true });
  const again = await files.upload("once.txt", "two", { contentType: "text/plain", createOnly: true }).catch((e) => e);
  assert.equal(again.code, "already_exists");
  const stale = await files.upload("once.txt", "two", { contentType: "text/plain", ifSha256: sha256("zzz") }).catch((e) => e);
  assert.equal(stale.code, "failed_precondition");
  const replaced = await files.upload("once.txt", "two", { contentType: "text/plain", ifSha256: first.sha256 });
  assert.equal(replaced.sha256, sha256("two"));
  const badPath = await files.upload("a//b.txt", "x", { contentType: "text/plain" }).catch((e) => e);
  assert.equal(badPath.code, "invalid_argument");
  assert.deepEqual(new TextDecoder().decode(await anonymous.download("once.txt")), "two");
  app.close();
});
