/**
 * The baas client: `createClient({url, projectId, apiKey})`, then `client.auth`,
 * `client.collection(…)`, `client.storage`, `client.functions`, `client.push`.
 */
import { Auth } from "./auth.js";
import type { Context } from "./context.js";
import { CollectionReference, DocumentReference, WriteBatch, type DocumentData } from "./documents.js";
import { Functions } from "./functions.js";
import { HttpClient, type FetchLike } from "./http.js";
import { memoryPersistence, localStoragePersistence, type Persistence } from "./persistence.js";
import { Push } from "./push.js";
import { Realtime, type RealtimeOptions } from "./realtime.js";
import { Storage } from "./storage.js";

export const VERSION = "0.1.0";

export interface ClientOptions {
  /** The server, e.g. `https://baas.example.com` (no path). */
  url: string;
  projectId: string;
  /** A publishable key (`pk_…`) in apps; a secret key (`sk_…`) only on servers. */
  apiKey: string;
  /** Where the session is kept: localStorage in browsers, else memory, unless given. */
  persistence?: Persistence;
  /** Refresh the access token this long before it expires (default 60; at most a third of its lifetime). */
  refreshMarginSeconds?: number;
  fetch?: FetchLike;
  realtime?: RealtimeOptions;
}

export class Client {
  readonly http: HttpClient;
  readonly auth: Auth;
  readonly realtime: Realtime;
  readonly storage: Storage;
  readonly functions: Functions;
  readonly push: Push;
  private readonly ctx: Context;

  constructor(options: ClientOptions) {
    this.http = new HttpClient(options.url, options.projectId, options.apiKey, options.fetch);
    this.auth = new Auth(this.http, {
      persistence: options.persistence ?? defaultPersistence(),
      refreshMarginSeconds: options.refreshMarginSeconds,
    });
    this.realtime = new Realtime(this.http, this.auth, options.realtime);
    this.ctx = { http: this.http, realtime: this.realtime };
    this.storage = new Storage(this.http);
    this.functions = new Functions(this.http);
    this.push = new Push(this.http);
  }

  collection<T = DocumentData>(name: string): CollectionReference<T> {
    return new CollectionReference<T>(this.ctx, name);
  }

  doc<T = DocumentData>(collection: string, id: string): DocumentReference<T> {
    return new DocumentReference<T>(this.ctx, collection, id);
  }

  batch(): WriteBatch {
    return new WriteBatch(this.ctx);
  }

  /** Stop timers and close the realtime socket (the session stays persisted). */
  close(): void {
    this.realtime.close();
    this.auth.close();
  }
}

export function createClient(options: ClientOptions): Client {
  return new Client(options);
}

function defaultPersistence(): Persistence {
  try {
    const storage = (globalThis as { localStorage?: Persistence }).localStorage;
    if (storage) return localStoragePersistence(storage);
  } catch {
    // storage disabled (private mode, sandboxed frame)
  }
  return memoryPersistence();
}

export { Auth, type AuthOptions, type Session, type User } from "./auth.js";
export { CollectionReference, DocumentReference, WriteBatch, type BatchResult, type Document, type DocumentData, type WriteOptions } from "./documents.js";
export { BaasError, isBaasError, type ErrorCode } from "./errors.js";
export { Functions } from "./functions.js";
export { HttpClient, type FetchLike, type RequestOptions } from "./http.js";
export { asyncStoragePersistence, localStoragePersistence, memoryPersistence, type Persistence } from "./persistence.js";
export { Push, type Platform, type PushDevice } from "./push.js";
export { and, or, where, Query, type Aggregates, type Filter, type Op, type OrderBy, type QueryPage } from "./query.js";
export {
  Realtime,
  type Change,
  type ConnectionState,
  type DocumentSnapshot,
  type ErrorListener,
  type QuerySnapshot,
  type RealtimeOptions,
  type SnapshotDocument,
  type SnapshotListener,
  type Unsubscribe,
  type WebSocketConstructor,
} from "./realtime.js";
export { Bucket, Storage, type ObjectList, type StoredObject, type UploadData, type UploadOptions, type UploadProgress } from "./storage.js";
export {
  arrayRemove,
  arrayUnion,
  deleteField,
  FieldTransform,
  increment,
  maximum,
  minimum,
  serverTimestamp,
  type Transform,
  type TransformOp,
} from "./transforms.js";
