import { BaasError } from "./errors.js";
import type { HttpClient, TokenSource } from "./http.js";
import type { Persistence } from "./persistence.js";

export interface User {
  uid: string;
  email: string | null;
  emailVerified: boolean;
  displayName: string | null;
  anonymous: boolean;
  disabled: boolean;
  providers: string[];
  claims: Record<string, unknown>;
  data: Record<string, unknown>;
  createTime: string;
  updateTime: string;
  lastSignInTime: string | null;
}

/** What is persisted: enough to resume a session after a restart. */
export interface Session {
  user: User;
  accessToken: string;
  refreshToken: string;
  /** When the access token expires, in ms since the epoch (local clock). */
  expiresAt: number;
  /** Its lifetime in ms, to place the next refresh. */
  lifetime: number;
}

interface SessionAnswer {
  user: User;
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

export interface AuthOptions {
  persistence: Persistence;
  /** Refresh this many seconds before expiry (at most a third of the token's lifetime). */
  refreshMarginSeconds?: number;
}

type Listener<T> = (value: T) => void;

/**
 * End-user sign-in and the session's tokens. Refreshes happen one at a time (a refresh
 * token works once; two concurrent uses would revoke the session), ahead of expiry on a
 * timer, and on demand when a call finds the token about to lapse.
 */
export class Auth implements TokenSource {
  private session: Session | null = null;
  private refreshing: Promise<Session | null> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly userListeners = new Set<Listener<User | null>>();
  private readonly tokenListeners = new Set<Listener<string | null>>();
  private readonly storageKey: string;
  private readonly marginMs: number;
  /** Resolves once a persisted session (if any) has been restored. */
  readonly ready: Promise<void>;

  constructor(
    private readonly http: HttpClient,
    private readonly options: AuthOptions,
  ) {
    this.storageKey = `baas:${http.projectId}:session`;
    this.marginMs = (options.refreshMarginSeconds ?? 60) * 1000;
    http.tokens = this;
    this.ready = this.restore();
  }

  get currentUser(): User | null {
    return this.session?.user ?? null;
  }

  /** Called with the user now (once restored) and on every sign-in or sign-out. */
  onAuthStateChanged(listener: Listener<User | null>): () => void {
    this.userListeners.add(listener);
    void this.ready.then(() => this.userListeners.has(listener) && listener(this.currentUser));
    return () => void this.userListeners.delete(listener);
  }

  /** Called whenever the access token changes (sign-in, refresh, sign-out). */
  onTokenChanged(listener: Listener<string | null>): () => void {
    this.tokenListeners.add(listener);
    return () => void this.tokenListeners.delete(listener);
  }

  signUp(params: { email: string; password: string; displayName?: string }): Promise<User> {
    return this.start("/auth/signup", params);
  }

  signIn(params: { email: string; password: string }): Promise<User> {
    return this.start("/auth/login", params);
  }

  signInAnonymously(): Promise<User> {
    return this.start("/auth/anonymous", {});
  }

  /** Give the signed-in anonymous user an email and password; the uid stays. */
  linkWithPassword(params: { email: string; password: string }): Promise<User> {
    return this.start("/auth/link", params, true);
  }

  /** Exchange a custom token minted by a server (`POST …/auth/custom-token`). */
  signInWithCustomToken(token: string): Promise<User> {
    return this.start("/auth/custom-token/exchange", { token });
  }

  /** The URL to send the browser to for an OAuth sign-in with `provider`. */
  oauthUrl(provider: string, redirectUri: string): string {
    return this.http.url(`/auth/oauth/${encodeURIComponent(provider)}/authorize`, { redirect_uri: redirectUri });
  }

  /** Navigate the page to the provider (browsers). */
  signInWithRedirect(provider: string, redirectUri: string): void {
    const location = (globalThis as { location?: { assign(url: string): void } }).location;
    if (!location) throw new Error("No page to redirect; open auth.oauthUrl() in a browser instead");
    location.assign(this.oauthUrl(provider, redirectUri));
  }

  /**
   * Finish an OAuth sign-in on the redirect page: read the tokens from the URL's fragment
   * (`#accessToken=…&refreshToken=…&expiresIn=…`), load the user, and drop the fragment
   * from the address bar. Null when the URL carries no tokens.
   */
  async completeRedirect(url?: string): Promise<User | null> {
    const g = globalThis as { location?: { href: string }; history?: { replaceState(d: unknown, t: string, u: string): void } };
    const href = url ?? g.location?.href ?? "";
    const hash = href.includes("#") ? href.slice(href.indexOf("#") + 1) : "";
    const params = parseParams(hash);
    const accessToken = params.accessToken;
    const refreshToken = params.refreshToken;
    const expiresIn = Number(params.expiresIn);
    if (!accessToken || !refreshToken || !expiresIn) return null;
    if (url === undefined && g.history && g.location) g.history.replaceState(null, "", href.split("#")[0]);
    const { user } = await this.http.request<{ user: User }>("GET", "/auth/me", {
      headers: { Authorization: `Bearer ${accessToken}` },
      withUser: false,
    });
    await this.setSession({ user, accessToken, refreshToken, expiresIn });
    return user;
  }

  /** End the session on the server (its refresh family) and here. */
  async signOut(): Promise<void> {
    await this.ready;
    const session = this.session;
    await this.setSession(null);
    if (session) {
      await this.http
        .request("POST", "/auth/logout", { body: { refreshToken: session.refreshToken }, withUser: false })
        .catch(() => undefined); // signed out here even when offline
    }
  }

  /** The current access token, refreshed first when it is about to expire. */
  async getAccessToken(): Promise<string | null> {
    await this.ready;
    const session = this.session;
    if (!session) return null;
    if (Date.now() >= session.expiresAt - this.margin(session)) {
      return (await this.refresh())?.accessToken ?? null;
    }
    return session.accessToken;
  }

  async forceRefresh(): Promise<string | null> {
    return (await this.refresh())?.accessToken ?? null;
  }

  /** Trade the refresh token for a new session; concurrent callers share one request. */
  refresh(): Promise<Session | null> {
    if (!this.refreshing) {
      this.refreshing = this.doRefresh().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  async reloadUser(): Promise<User | null> {
    if (!(await this.getAccessToken())) return null;
    const { user } = await this.http.request<{ user: User }>("GET", "/auth/me");
    await this.updateUser(user);
    return user;
  }

  async updateProfile(changes: { displayName?: string | null; data?: Record<string, unknown> }): Promise<User> {
    const { user } = await this.http.request<{ user: User }>("PATCH", "/auth/me", { body: changes });
    await this.updateUser(user);
    return user;
  }

  /** Every other session of the user ends; this one continues with fresh tokens. */
  async changePassword(currentPassword: string, newPassword: string): Promise<User> {
    return this.start("/auth/me/password", { currentPassword, newPassword }, true);
  }

  async deleteAccount(): Promise<void> {
    await this.http.request("DELETE", "/auth/me");
    await this.setSession(null);
  }

  async sendPasswordReset(email: string): Promise<void> {
    await this.http.request("POST", "/auth/password-reset", { body: { email }, withUser: false });
  }

  async confirmPasswordReset(token: string, newPassword: string): Promise<User> {
    const { user } = await this.http.request<{ user: User }>("POST", "/auth/password-reset/confirm", {
      body: { token, newPassword },
      withUser: false,
    });
    return user;
  }

  async sendEmailVerification(): Promise<void> {
    await this.http.request("POST", "/auth/verify-email", { body: {} });
  }

  async confirmEmailVerification(token: string): Promise<User> {
    const { user } = await this.http.request<{ user: User }>("POST", "/auth/verify-email/confirm", {
      body: { token },
      withUser: false,
    });
    if (this.session?.user.uid === user.uid) await this.updateUser(user);
    return user;
  }

  /** Stop the refresh timer (the session stays persisted). */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  // --- internals ---------------------------------------------------------------------------

  private margin(session: Session): number {
    return Math.min(this.marginMs, session.lifetime / 3);
  }

  private async start(path: string, body: unknown, withUser = false): Promise<User> {
    await this.ready;
    const answer = await this.http.request<SessionAnswer>("POST", path, { body, withUser });
    await this.setSession(answer);
    return answer.user;
  }

  private async doRefresh(): Promise<Session | null> {
    await this.ready;
    const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
    // Tabs sharing one stored session take turns, so only one of them refreshes it.
    if (locks?.request) return locks.request(`${this.storageKey}:refresh`, () => this.refreshOrAdopt());
    return this.refreshOrAdopt();
  }

  /** Take the stored session if another tab (or client on the same storage) has already
   * refreshed it; else trade our refresh token. A token another tab used long ago would
   * be taken by the server as stolen and end the session everywhere. */
  private async refreshOrAdopt(): Promise<Session | null> {
    const adopted = await this.adoptStored();
    if (adopted) return adopted;
    const session = this.session;
    if (!session) return null;
    try {
      const answer = await this.http.request<SessionAnswer>("POST", "/auth/refresh", {
        body: { refreshToken: session.refreshToken },
        withUser: false,
      });
      if (this.session !== session) return this.session; // signed out or in meanwhile
      await this.setSession(answer, true);
      return this.session;
    } catch (error) {
      if (error instanceof BaasError && (error.status === 401 || error.status === 403)) {
        if (this.session === session) await this.setSession(null); // revoked, reused, disabled
        throw error;
      }
      this.schedule(5000); // offline or the server is down: keep the session, try again soon
      throw error;
    }
  }

  private async adoptStored(): Promise<Session | null> {
    const session = this.session;
    if (!session) return null;
    let stored: Session | null = null;
    try {
      const text = await this.options.persistence.getItem(this.storageKey);
      stored = text ? (JSON.parse(text) as Session) : null;
    } catch {
      return null;
    }
    if (
      !stored?.refreshToken ||
      stored.refreshToken === session.refreshToken ||
      stored.user?.uid !== session.user.uid ||
      Date.now() >= stored.expiresAt - this.margin(stored)
    ) {
      return null;
    }
    const previousToken = session.accessToken;
    this.session = stored;
    this.scheduleRefresh();
    if (stored.accessToken !== previousToken) {
      for (const listener of [...this.tokenListeners]) listener(stored.accessToken);
    }
    return stored;
  }

  private async updateUser(user: User): Promise<void> {
    if (!this.session) return;
    this.session = { ...this.session, user };
    await this.persist();
    this.emitUser();
  }

  private async setSession(answer: SessionAnswer | null, refreshed = false): Promise<void> {
    const previousUid = this.session?.user.uid ?? null;
    const previousToken = this.session?.accessToken ?? null;
    if (answer) {
      const lifetime = answer.expiresIn * 1000;
      this.session = {
        user: answer.user,
        accessToken: answer.accessToken,
        refreshToken: answer.refreshToken,
        expiresAt: Date.now() + lifetime,
        lifetime,
      };
    } else {
      this.session = null;
    }
    this.scheduleRefresh();
    await this.persist();
    if ((this.session?.accessToken ?? null) !== previousToken) {
      for (const listener of [...this.tokenListeners]) listener(this.session?.accessToken ?? null);
    }
    if ((this.session?.user.uid ?? null) !== previousUid || (answer && !refreshed)) this.emitUser();
  }

  private emitUser(): void {
    for (const listener of [...this.userListeners]) listener(this.currentUser);
  }

  private scheduleRefresh(): void {
    const session = this.session;
    if (!session) return this.close();
    this.schedule(Math.max(0, session.expiresAt - this.margin(session) - Date.now()));
  }

  private schedule(delayMs: number): void {
    this.close();
    const timer = setTimeout(() => {
      this.timer = null;
      this.refresh().catch(() => undefined);
    }, delayMs);
    // A pending refresh must not keep a Node process alive.
    (timer as { unref?: () => void }).unref?.();
    this.timer = timer;
  }

  private async persist(): Promise<void> {
    if (this.session) await this.options.persistence.setItem(this.storageKey, JSON.stringify(this.session));
    else await this.options.persistence.removeItem(this.storageKey);
  }

  private async restore(): Promise<void> {
    try {
      const stored = await this.options.persistence.getItem(this.storageKey);
      if (!stored) return;
      const session = JSON.parse(stored) as Session;
      if (session?.refreshToken && session.user?.uid) {
        this.session = session;
        this.scheduleRefresh();
      }
    } catch {
      await this.options.persistence.removeItem(this.storageKey);
    }
  }
}

/** The Web Locks API (browsers), reduced to what the refresh uses. */
interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

/** `a=1&b=2` as an object (React Native's URLSearchParams cannot read one). */
function parseParams(text: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const part of text.split("&")) {
    if (!part) continue;
    const at = part.indexOf("=");
    const name = at < 0 ? part : part.slice(0, at);
    const value = at < 0 ? "" : part.slice(at + 1);
    params[decodeURIComponent(name.replace(/\+/g, " "))] = decodeURIComponent(value.replace(/\+/g, " "));
  }
  return params;
}
