import type { Context } from "./context.js";
import { BaasError } from "./errors.js";
import { Query } from "./query.js";
import type { DocumentSnapshot, ErrorListener, SnapshotListener, Unsubscribe } from "./realtime.js";
import { splitTransforms, type Transform } from "./transforms.js";

export type DocumentData = Record<string, unknown>;

export interface Document<T = DocumentData> {
  id: string;
  data: T;
  version: number;
  createTime: string;
  updateTime: string;
}

export interface WriteOptions {
  /** Write only if the document is at this version (412 `failed_precondition` otherwise). */
  ifVersion?: number;
  /** Extra transforms besides those given as values in the data. */
  transforms?: Transform[];
}

const path = (collection: string, id?: string): string =>
  `/collections/${encodeURIComponent(collection)}/documents${id === undefined ? "" : `/${encodeURIComponent(id)}`}`;

function body(data: DocumentData, options: WriteOptions): Record<string, unknown> {
  const split = splitTransforms(data);
  const transforms = [...split.transforms, ...(options.transforms ?? [])];
  return transforms.length ? { data: split.data, transforms } : { data: split.data };
}

function ifMatch(options: { ifVersion?: number }): Record<string, string> {
  return options.ifVersion === undefined ? {} : { "If-Match": `"${options.ifVersion}"` };
}

export class DocumentReference<T = DocumentData> {
  constructor(
    private readonly ctx: Context,
    readonly collection: string,
    readonly id: string,
  ) {}

  /** The document, or null when there is none. `fields` keeps only those of `data`. */
  async get(options: { fields?: string[] } = {}): Promise<Document<T> | null> {
    try {
      return await this.ctx.http.request<Document<T>>("GET", path(this.collection, this.id), {
        query: { fields: options.fields?.join(",") },
      });
    } catch (error) {
      if (error instanceof BaasError && error.code === "not_found") return null;
      throw error;
    }
  }

  /** Create or replace. `createOnly` refuses to replace (409 `already_exists`). */
  set(data: T & DocumentData, options: WriteOptions & { createOnly?: boolean } = {}): Promise<Document<T>> {
    const headers = { ...ifMatch(options), ...(options.createOnly ? { "If-None-Match": "*" } : {}) };
    return this.ctx.http.request("PUT", path(this.collection, this.id), { body: body(data, options), headers });
  }

  /** Merge into the existing document (JSON merge patch: `null` removes a field); 404 if missing. */
  update(data: Partial<T> & DocumentData, options: WriteOptions = {}): Promise<Document<T>> {
    return this.ctx.http.request("PATCH", path(this.collection, this.id), { body: body(data, options), headers: ifMatch(options) });
  }

  async delete(options: { ifVersion?: number } = {}): Promise<void> {
    await this.ctx.http.request("DELETE", path(this.collection, this.id), { headers: ifMatch(options) });
  }

  /** Follow this document live; `doc` is null while it does not exist or is not readable. */
  onSnapshot(listener: SnapshotListener<DocumentSnapshot<T>>, onError?: ErrorListener): Unsubscribe {
    return this.ctx.realtime.listen<DocumentSnapshot<T>>({ collection: this.collection, docId: this.id }, listener, onError);
  }
}

export class CollectionReference<T = DocumentData> extends Query<T> {
  constructor(ctx: Context, collection: string) {
    super(ctx, collection);
  }

  doc(id: string): DocumentReference<T> {
    return new DocumentReference<T>(this.ctx, this.collection, id);
  }

  /** Create a document with an automatic id. */
  add(data: T & DocumentData, options: Omit<WriteOptions, "ifVersion"> = {}): Promise<Document<T>> {
    return this.ctx.http.request("POST", path(this.collection), { body: body(data, options) });
  }
}

export interface BatchResult {
  id: string;
  version: number | null;
}

/** Up to 500 writes in one transaction: all succeed or none (the error's `details.index`). */
export class WriteBatch {
  private readonly writes: Record<string, unknown>[] = [];

  constructor(private readonly ctx: Context) {}

  create(collection: string, data: DocumentData, id?: string): this {
    return this.add({ op: "create", collection, ...(id === undefined ? {} : { id }), ...body(data, {}) });
  }

  set(collection: string, id: string, data: DocumentData, options: WriteOptions = {}): this {
    return this.add({ op: "set", collection, id, ...body(data, options), ...version(options) });
  }

  update(collection: string, id: string, data: DocumentData, options: WriteOptions = {}): this {
    return this.add({ op: "update", collection, id, ...body(data, options), ...version(options) });
  }

  delete(collection: string, id: string, options: { ifVersion?: number } = {}): this {
    return this.add({ op: "delete", collection, id, ...version(options) });
  }

  get size(): number {
    return this.writes.length;
  }

  async commit(): Promise<BatchResult[]> {
    const answer = await this.ctx.http.request<{ results: BatchResult[] }>("POST", "/batch", { body: { writes: this.writes } });
    return answer.results;
  }

  private add(write: Record<string, unknown>): this {
    this.writes.push(write);
    return this;
  }
}

function version(options: { ifVersion?: number }): Record<string, number> {
  return options.ifVersion === undefined ? {} : { ifVersion: options.ifVersion };
}
