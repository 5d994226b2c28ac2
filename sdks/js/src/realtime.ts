import type { Auth } from "./auth.js";
import type { DocumentData } from "./documents.js";
import { BaasError } from "./errors.js";
import type { HttpClient } from "./http.js";
import type { Filter } from "./query.js";

/** A document as realtime carries it (no createTime: change entries do not hold it). */
export interface SnapshotDocument<T = DocumentData> {
  id: string;
  data: T;
  version: number;
  updateTime: string;
  createTime?: string;
}

export interface Change<T = DocumentData> {
  type: "added" | "modified" | "removed";
  /** For `removed`, only `id` and `version` are known. */
  doc: SnapshotDocument<T> | { id: string; version: number };
  seq: number;
}

export interface QuerySnapshot<T = DocumentData> {
  /** Every matching document now, by id. */
  docs: SnapshotDocument<T>[];
  /** What changed since the previous call (every document, as `added`, on the first). */
  changes: Change<T>[];
  /** The change-log position this state is exact at. */
  seq: number;
}

export interface DocumentSnapshot<T = DocumentData> {
  exists: boolean;
  doc: SnapshotDocument<T> | null;
  changes: Change<T>[];
  seq: number;
}

export type SnapshotListener<S> = (snapshot: S) => void;
export type ErrorListener = (error: BaasError) => void;
export type Unsubscribe = () => void;
export type ConnectionState = "connecting" | "connected" | "disconnected";

type WebSocketLike = {
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
};
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface RealtimeOptions {
  /** The WebSocket class, where the platform has none as a global (Node 20 without `--experimental-websocket`). */
  WebSocket?: WebSocketConstructor;
  /** First reconnect delay; doubled on each failure up to `maxBackoffMs`, with jitter. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** A ping this often; a socket silent for two intervals is taken as dead. */
  pingIntervalMs?: number;
  /** Give up on a connection attempt not authenticated within this time, and retry. */
  connectTimeoutMs?: number;
}

interface Target {
  collection: string;
  docId?: string;
  where?: Filter;
}

interface Subscription {
  id: string;
  target: Target;
  listener: SnapshotListener<never>;
  onError?: ErrorListener;
  /** The last seq applied (the `subscribed` seq, then each change's); null until the first snapshot. */
  seq: number | null;
  docs: Map<string, SnapshotDocument>;
  /** Sent on the current socket and not yet answered or ended. */
  live: boolean;
}

const OPEN = 1;

/**
 * One socket per client, shared by every subscription. After a drop it reconnects with
 * exponential backoff and subscribes again with `resumeFrom` the last seq each
 * subscription applied, so the server replays what was missed: no gap, no duplicate.
 * A refreshed access token is sent on the open socket; the subscriptions go on.
 */
export class Realtime {
  private socket: WebSocketLike | null = null;
  private authenticated = false;
  private readonly subs = new Map<string, Subscription>();
  private counter = 0;
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private connectTimer: ReturnType<typeof setTimeout> | null = null;
  private lastMessageAt = 0;
  private closed = false;
  private readonly stateListeners = new Set<(state: ConnectionState) => void>();
  private readonly WebSocketClass: WebSocketConstructor | undefined;

  constructor(
    private readonly http: HttpClient,
    private readonly auth: Auth | null,
    private readonly options: RealtimeOptions = {},
  ) {
    this.WebSocketClass = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    auth?.onTokenChanged((token) => {
      if (this.socket && this.authenticated) this.sendMessage({ type: "auth", token });
    });
  }

  /** Subscribe to a document, collection or filter; used by `onSnapshot`. */
  listen<S>(target: Target, listener: SnapshotListener<S>, onError?: ErrorListener): Unsubscribe {
    this.closed = false;
    const id = `s${++this.counter}`;
    const sub: Subscription = { id, target, listener: listener as SnapshotListener<never>, onError, seq: null, docs: new Map(), live: false };
    this.subs.set(id, sub);
    if (this.socket && this.authenticated) this.subscribe(sub);
    else if (!this.socket && !this.reconnectTimer) this.connect();
    return () => this.unlisten(id);
  }

  /** Told on every connection change; for status displays and tests. */
  onStateChange(listener: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    return () => void this.stateListeners.delete(listener);
  }

  get connected(): boolean {
    return this.socket !== null && this.authenticated;
  }

  /** End every subscription and the socket. */
  close(): void {
    this.closed = true;
    this.subs.clear();
    this.stopTimers();
    this.drop(false);
  }

  // --- the socket ----------------------------------------------------------------------

  private url(): string {
    const base = this.http.baseUrl.replace(/^http/, "ws");
    return `${base}/v1/projects/${encodeURIComponent(this.http.projectId)}/realtime?apiKey=${encodeURIComponent(this.http.apiKey)}`;
  }

  private connect(): void {
    this.reconnectTimer = null;
    if (this.closed || this.subs.size === 0 || this.socket) return;
    if (!this.WebSocketClass) {
      this.fail(new BaasError("unavailable", "No WebSocket in this environment: pass options.WebSocket"));
      return;
    }
    this.setState("connecting");
    const socket = new this.WebSocketClass(this.url());
    this.socket = socket;
    this.authenticated = false;
    socket.onopen = () => {
      void this.sendAuth(socket);
    };
    socket.onmessage = (event) => {
      if (this.socket === socket) this.receive(String(event.data));
    };
    socket.onclose = (event) => {
      if (this.socket === socket) this.lost(event.code);
    };
    // Some implementations (Node 20's) report a failed handshake with an error and no
    // close, or with nothing at all: an error ends the attempt, and so does a timeout.
    socket.onerror = () => {
      if (this.socket === socket) this.drop(true);
    };
    this.connectTimer = setTimeout(() => {
      this.connectTimer = null;
      if (this.socket === socket && !this.authenticated) this.drop(true);
    }, this.options.connectTimeoutMs ?? 10_000);
  }

  private async sendAuth(socket: WebSocketLike): Promise<void> {
    let token: string | null = null;
    try {
      token = this.auth ? await this.auth.getAccessToken() : null;
    } catch {
      token = null; // signed out by a failed refresh: continue as anonymous
    }
    if (this.socket === socket && socket.readyState === OPEN) {
      this.lastMessageAt = Date.now();
      socket.send(JSON.stringify({ type: "auth", token }));
      this.startPing(socket);
    }
  }

  private startPing(socket: WebSocketLike): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    const interval = this.options.pingIntervalMs ?? 25_000;
    this.pingTimer = setInterval(() => {
      if (this.socket !== socket) return;
      if (Date.now() - this.lastMessageAt > 2 * interval) {
        this.drop(true); // silent too long: the network is gone without a close
        return;
      }
      this.sendMessage({ type: "ping" });
    }, interval);
  }

  private lost(code: number): void {
    const wasAuthenticated = this.authenticated;
    this.clearConnectTimer();
    this.socket = null;
    this.authenticated = false;
    for (const sub of this.subs.values()) sub.live = false;
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
    this.setState("disconnected");
    if (code === 4401 && !wasAuthenticated) {
      // the key itself is refused: retrying cannot help
      this.fail(new BaasError("unauthenticated", "The API key was refused by the realtime endpoint."));
      return;
    }
    this.scheduleReconnect();
  }

  /** Close the socket now, without waiting for the peer (a dead network never answers). */
  private drop(reconnect: boolean): void {
    const socket = this.socket;
    if (!socket) return;
    socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
    try {
      socket.close();
    } catch {
      // already closed
    }
    if (reconnect) this.lost(1006);
    else {
      this.clearConnectTimer();
      this.socket = null;
      this.authenticated = false;
      this.setState("disconnected");
    }
  }

  private scheduleReconnect(): void {
    if (this.closed || this.subs.size === 0 || this.reconnectTimer) return;
    const initial = this.options.initialBackoffMs ?? 250;
    const max = this.options.maxBackoffMs ?? 30_000;
    const delay = Math.min(max, initial * 2 ** this.attempt) * (0.5 + Math.random() / 2);
    this.attempt += 1;
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private clearConnectTimer(): void {
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = null;
  }

  private stopTimers(): void {
    this.clearConnectTimer();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.reconnectTimer = this.pingTimer = null;
  }

  private sendMessage(message: Record<string, unknown>): void {
    if (this.socket && this.socket.readyState === OPEN) this.socket.send(JSON.stringify(message));
  }

  private setState(state: ConnectionState): void {
    for (const listener of [...this.stateListeners]) listener(state);
  }

  // --- messages ------------------------------------------------------------------------

  private receive(text: string): void {
    this.lastMessageAt = Date.now();
    let message: Record<string, any>;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    switch (message.type) {
      case "authenticated":
        if (!this.authenticated) {
          this.authenticated = true;
          this.clearConnectTimer();
          this.attempt = 0;
          this.setState("connected");
          for (const sub of this.subs.values()) this.subscribe(sub);
        }
        break;
      case "subscribed":
        this.subscribed(message);
        break;
      case "change":
        this.change(message);
        break;
      case "error":
        this.error(message);
        break;
      default:
        break; // pong
    }
  }

  private subscribe(sub: Subscription): void {
    const { collection, docId, where } = sub.target;
    const message: Record<string, unknown> = { type: "subscribe", id: sub.id, collection };
    if (docId !== undefined) message.docId = docId;
    if (where !== undefined) message.where = where;
    if (sub.seq === null) message.snapshot = true;
    else message.resumeFrom = sub.seq;
    sub.live = true;
    this.sendMessage(message);
  }

  private subscribed(message: Record<string, any>): void {
    const sub = this.subs.get(message.id);
    if (!sub || !Array.isArray(message.snapshot)) return; // a resume: the replay follows as changes
    const previous = sub.docs;
    const next = new Map<string, SnapshotDocument>();
    for (const doc of message.snapshot as SnapshotDocument[]) next.set(doc.id, doc);
    const seq = message.seq as number;
    const changes: Change[] = [];
    for (const [id, doc] of next) {
      const before = previous.get(id);
      if (!before) changes.push({ type: "added", doc, seq });
      else if (before.version !== doc.version) changes.push({ type: "modified", doc, seq });
    }
    for (const [id, doc] of previous) {
      if (!next.has(id)) changes.push({ type: "removed", doc: { id, version: doc.version }, seq });
    }
    sub.docs = next;
    sub.seq = seq;
    this.emit(sub, changes);
  }

  private change(message: Record<string, any>): void {
    const sub = this.subs.get(message.sub);
    if (!sub || sub.seq === null || message.seq <= sub.seq) return; // never applied twice
    const doc = message.doc as SnapshotDocument;
    if (message.change === "removed") sub.docs.delete(doc.id);
    else sub.docs.set(doc.id, doc);
    sub.seq = message.seq;
    this.emit(sub, [{ type: message.change, doc, seq: message.seq }]);
  }

  private error(message: Record<string, any>): void {
    const error = new BaasError(message.code ?? "internal", message.message ?? "realtime error", {
      details: message.details ?? {},
    });
    if (message.resumeFrom) {
      // a slow consumer: the socket closes. Every change before this message was
      // received in order, so each subscription resumes from the last seq it applied.
      return;
    }
    const sub = message.id ? this.subs.get(message.id) : undefined;
    if (!sub) {
      if (error.code === "unauthenticated" && this.auth) void this.auth.forceRefresh().catch(() => undefined);
      return;
    }
    sub.live = false;
    if (error.code === "resume_expired" || error.code === "aborted") {
      // the log no longer holds our position, or the user changed: start from a snapshot
      sub.seq = null;
      if (this.authenticated) this.subscribe(sub);
      return;
    }
    this.subs.delete(sub.id);
    sub.onError?.(error);
    if (this.subs.size === 0) this.drop(false);
  }

  private emit(sub: Subscription, changes: Change[]): void {
    const seq = sub.seq as number;
    if (sub.target.docId !== undefined) {
      const doc = sub.docs.get(sub.target.docId) ?? null;
      const snapshot: DocumentSnapshot = { exists: doc !== null, doc, changes, seq };
      (sub.listener as SnapshotListener<DocumentSnapshot>)(snapshot);
    } else {
      const docs = [...sub.docs.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      (sub.listener as SnapshotListener<QuerySnapshot>)({ docs, changes, seq });
    }
  }

  private unlisten(id: string): void {
    const sub = this.subs.get(id);
    if (!sub) return;
    this.subs.delete(id);
    if (sub.live) this.sendMessage({ type: "unsubscribe", id });
    if (this.subs.size === 0) {
      this.stopTimers();
      this.drop(false);
    }
  }

  private fail(error: BaasError): void {
    const subs = [...this.subs.values()];
    this.subs.clear();
    this.stopTimers();
    for (const sub of subs) sub.onError?.(error);
  }
}
