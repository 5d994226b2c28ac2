import assert from "node:assert/strict";
import { test } from "node:test";
import { BaasError } from "../dist/index.js";
import { client, unique } from "./helpers.js";

test("register a device token, refresh it, topics, list and unregister", async () => {
  const token = `fcm:${unique("tok")}`;
  const signedOut = await client().push.register(token, { platform: "android" }).catch((e) => e);
  assert.ok(signedOut instanceof BaasError);
  assert.deepEqual([signedOut.code, signedOut.status], ["unauthenticated", 401]);

  const app = client();
  const user = await app.auth.signInAnonymously();
  const device = await app.push.register(token, { platform: "android", appVersion: "1.0.0" });
  assert.deepEqual(
    [device.token, device.uid, device.platform, device.appVersion, device.active, device.topics],
    [token, user.uid, "android", "1.0.0", true, []],
  );
  const refreshed = await app.push.register(token, { platform: "android", appVersion: "1.1.0" });
  assert.equal(refreshed.appVersion, "1.1.0");
  await app.push.subscribeToTopic(token, "news");
  assert.deepEqual((await app.push.list()).map((d) => [d.token, d.topics]), [[token, ["news"]]]);
  await app.push.unsubscribeFromTopic(token, "news");
  assert.deepEqual((await app.push.list()).map((d) => [d.token, d.topics]), [[token, []]]);
  const bad = await app.push.register(token, { platform: "windows" }).catch((e) => e);
  assert.deepEqual([bad.code, bad.details.field], ["invalid_argument", "platform"]);

  // the token moves to whoever registers it on the device next
  const other = client();
  const second = await other.auth.signInAnonymously();
  assert.equal((await other.push.register(token, { platform: "ios" })).uid, second.uid);
  assert.deepEqual(await app.push.list(), []);
  const notMine = await app.push.unregister(token).catch((e) => e);
  assert.equal(notMine.code, "not_found");
  await other.push.unregister(token);
  assert.deepEqual(await other.push.list(), []);
});
