import assert from "node:assert/strict";
import { test } from "node:test";
import { BaasError, createClient, memoryPersistence, isBaasError } from "../dist/index.js";
import { admin, client, PK, PROJECT, TOKEN_LIFETIME, unique, until, URL_ } from "./helpers.js";

const PASSWORD = "correct-Horse-battery-9";

test("sign up, sign in, wrong password, current user and state events", async () => {
  const app = client();
  const seen = [];
  app.auth.onAuthStateChanged((user) => seen.push(user?.uid ?? null));
  await app.auth.ready;
  const email = `${unique("u")}@example.com`;
  const user = await app.auth.signUp({ email, password: PASSWORD, displayName: "Ada" });
  assert.equal(user.email, email);
  assert.equal(user.displayName, "Ada");
  assert.equal(user.anonymous, false);
  assert.equal(app.auth.currentUser.uid, user.uid);
  await app.auth.signOut();
  assert.equal(app.auth.currentUser, null);
  const again = await app.auth.signIn({ email, password: PASSWORD });
  assert.equal(again.uid, user.uid);
  await until(() => seen.length === 4, "four auth state events");
  assert.deepEqual(seen, [null, user.uid, null, user.uid]);

  const other = client();
  const error = await other.auth.signIn({ email, password: "wrong-Password-1" }).catch((e) => e);
  assert.ok(error instanceof BaasError);
  assert.equal(error.code, "unauthenticated");
  assert.equal(error.status, 401);
  assert.match(error.requestId, /^[A-Za-z0-9._:-]+$/);
  const taken = await other.auth.signUp({ email, password: PASSWORD }).catch((e) => e);
  assert.ok(isBaasError(taken, "already_exists"));
  assert.equal(taken.status, 409);
  const weak = await other.auth.signUp({ email: `${unique("w")}@example.com`, password: "123" }).catch((e) => e);
  assert.equal(weak.code, "invalid_argument");
  assert.ok(Array.isArray(weak.details.errors) && weak.details.errors.length > 0);
  assert.equal(other.auth.currentUser, null);
  app.close();
});

test("anonymous users link an email and keep their uid", async () => {
  const app = client();
  const anon = await app.auth.signInAnonymously();
  assert.equal(anon.anonymous, true);
  assert.equal(anon.email, null);
  const email = `${unique("l")}@example.com`;
  const linked = await app.auth.linkWithPassword({ email, password: PASSWORD });
  assert.equal(linked.uid, anon.uid);
  assert.equal(linked.anonymous, false);
  assert.equal(linked.email, email);
  const notAnonymous = await app.auth.linkWithPassword({ email: `${unique("x")}@example.com`, password: PASSWORD }).catch((e) => e);
  assert.equal(notAnonymous.code, "failed_precondition");
  const me = await app.auth.reloadUser();
  assert.equal(me.uid, anon.uid);
  app.close();
});

test("profile, password change and account deletion", async () => {
  const app = client();
  const email = `${unique("p")}@example.com`;
  await app.auth.signUp({ email, password: PASSWORD });
  const updated = await app.auth.updateProfile({ displayName: "Grace", data: { theme: "dark" } });
  assert.equal(updated.displayName, "Grace");
  assert.deepEqual(updated.data, { theme: "dark" });
  assert.equal(app.auth.currentUser.displayName, "Grace");
  const second = client();
  await second.auth.signIn({ email, password: PASSWORD });
  await app.auth.changePassword(PASSWORD, "another-Secret-77");
  // the other session ended: its refresh is refused and it is signed out
  const refused = await second.auth.refresh().catch((e) => e);
  assert.equal(refused.code, "unauthenticated");
  assert.equal(second.auth.currentUser, null);
  assert.equal((await app.auth.reloadUser()).displayName, "Grace"); // this one continues
  await app.auth.deleteAccount();
  assert.equal(app.auth.currentUser, null);
  const gone = await client().auth.signIn({ email, password: "another-Secret-77" }).catch((e) => e);
  assert.equal(gone.code, "unauthenticated");
  app.close();
  second.close();
});

test("sign out ends the session on the server", async () => {
  const app = client();
  await app.auth.signInAnonymously();
  const { refreshToken } = JSON.parse(await persisted(app));
  await app.auth.signOut();
  const answer = await fetch(`${URL_}/v1/projects/${PROJECT}/auth/refresh`, {
    method: "POST",
    headers: { "X-Api-Key": PK, "Content-Type": "application/json" },
    body: JSON.stringify({ refreshToken }),
  });
  assert.equal(answer.status, 401);
  app.close();
});

async function persisted(app) {
  return app.auth["options"].persistence.getItem(`baas:${PROJECT}:session`);
}

test("sessions persist: a new client on the same storage is signed in (sync and async stores)", async () => {
  const sync = memoryPersistence();
  const items = new Map();
  const asyncStore = {
    getItem: async (key) => items.get(key) ?? null,
    setItem: async (key, value) => void items.set(key, value),
    removeItem: async (key) => void items.delete(key),
  };
  for (const persistence of [sync, asyncStore]) {
    const first = client({ persistence });
    const user = await first.auth.signInAnonymously();
    first.close();
    const second = client({ persistence });
    assert.equal(second.auth.currentUser, null); // not before it is restored
    await second.auth.ready;
    assert.equal(second.auth.currentUser.uid, user.uid);
    assert.equal((await second.auth.reloadUser()).uid, user.uid);
    await second.auth.signOut();
    assert.equal(await persistence.getItem(`baas:${PROJECT}:session`), null);
    second.close();
  }
});

test("the access token is refreshed before it expires, without any call", async () => {
  assert.ok(TOKEN_LIFETIME <= 10, "the test server runs with short-lived tokens");
  const app = client();
  const tokens = [];
  app.auth.onTokenChanged((token) => tokens.push(token));
  const user = await app.auth.signInAnonymously();
  await until(() => tokens.length >= 3, "two refreshes", TOKEN_LIFETIME * 3000);
  assert.equal(new Set(tokens).size, tokens.length);
  // the first token has expired by now; the current one works
  const expired = await fetch(`${URL_}/v1/projects/${PROJECT}/auth/me`, { headers: { "X-Api-Key": PK, Authorization: `Bearer ${tokens[0]}` } });
  assert.equal(expired.status, 401);
  assert.equal((await app.auth.reloadUser()).uid, user.uid);
  app.close();
});

test("concurrent calls share one refresh (a refresh token works once)", async () => {
  const app = client({ refreshMarginSeconds: 0 });
  await app.auth.signInAnonymously();
  const results = await Promise.all([app.auth.refresh(), app.auth.refresh(), app.auth.forceRefresh()]);
  assert.equal(results[0], results[1]);
  assert.equal(results[0].accessToken, results[2]);
  assert.ok(app.auth.currentUser); // not revoked as a reuse
  assert.ok(await app.auth.reloadUser());
  app.close();
});

test("tabs sharing one stored session: the one refreshing later takes the other's tokens", async () => {
  const persistence = memoryPersistence(); // what two tabs share: the origin's localStorage
  const refreshes = { first: 0, second: 0 };
  const counting = (name) => (input, init) => {
    if (String(input).endsWith("/auth/refresh")) refreshes[name] += 1;
    return fetch(input, init);
  };
  const first = client({ persistence, fetch: counting("first"), refreshMarginSeconds: 0 });
  const user = await first.auth.signInAnonymously();
  const second = client({ persistence, fetch: counting("second"), refreshMarginSeconds: 0 });
  await second.auth.ready;
  assert.equal(second.auth.currentUser.uid, user.uid);
  const seen = [];
  second.auth.onTokenChanged((token) => seen.push(token));
  const rotated = await first.auth.forceRefresh();
  assert.equal(refreshes.first, 1);
  // The second tab's refresh token was used by the first: it takes the stored session instead,
  // so it never presents a used token (long after, that would end the session everywhere).
  assert.equal(await second.auth.forceRefresh(), rotated);
  assert.equal(refreshes.second, 0);
  assert.deepEqual(seen, [rotated]);
  assert.equal((await second.auth.reloadUser()).uid, user.uid);
  // Its own next refresh uses the shared token, and the first tab then takes that one.
  const next = await second.auth.forceRefresh();
  assert.equal(refreshes.second, 1);
  assert.notEqual(next, rotated);
  assert.equal(await first.auth.forceRefresh(), next);
  assert.equal(refreshes.first, 1);
  assert.ok(first.auth.currentUser && second.auth.currentUser);
  first.close();
  second.close();
});

test("custom tokens from a server sign a user in", async () => {
  const uid = unique("cu");
  const minted = await admin("POST", "/auth/custom-token", { uid, claims: { role: "editor" } });
  assert.equal(minted.status, 200);
  const app = client();
  const user = await app.auth.signInWithCustomToken(minted.body.token);
  assert.equal(user.uid, uid);
  assert.deepEqual(user.claims, { role: "editor" });
  const replay = await client().auth.signInWithCustomToken(minted.body.token).catch((e) => e);
  assert.equal(replay.code, "unauthenticated");
  assert.equal(replay.details.reason, "reused");
  app.close();
});

test("OAuth redirect helpers: the authorize URL and finishing from the fragment", async () => {
  const app = client();
  const url = new URL(app.auth.oauthUrl("google", "https://app.example/done"));
  assert.equal(url.origin + url.pathname, `${URL_}/v1/projects/${PROJECT}/auth/oauth/google/authorize`);
  assert.equal(url.searchParams.get("redirect_uri"), "https://app.example/done");
  assert.equal(await app.auth.completeRedirect("https://app.example/done"), null);
  // the server's redirect carries a session in the fragment: use a real one
  const session = await (await fetch(`${URL_}/v1/projects/${PROJECT}/auth/anonymous`, {
    method: "POST", headers: { "X-Api-Key": PK, "Content-Type": "application/json" }, body: "{}",
  })).json();
  const fragment = new URLSearchParams({
    accessToken: session.accessToken, refreshToken: session.refreshToken, expiresIn: String(session.expiresIn), uid: session.user.uid,
  });
  const user = await app.auth.completeRedirect(`https://app.example/done#${fragment}`);
  assert.equal(user.uid, session.user.uid);
  assert.equal(app.auth.currentUser.uid, session.user.uid);
  assert.equal((await app.auth.reloadUser()).uid, session.user.uid);
  app.close();
});

test("a wrong key is a typed unauthenticated error", async () => {
  const app = createClient({ url: URL_, projectId: PROJECT, apiKey: "pk_wrong", persistence: memoryPersistence() });
  const error = await app.auth.signInAnonymously().catch((e) => e);
  assert.ok(error instanceof BaasError);
  assert.deepEqual([error.code, error.status], ["unauthenticated", 401]);
  const offline = createClient({ url: "http://127.0.0.1:9", projectId: PROJECT, apiKey: PK, persistence: memoryPersistence() });
  const network = await offline.auth.signInAnonymously().catch((e) => e);
  assert.deepEqual([network.code, network.status], ["network_error", 0]);
});
