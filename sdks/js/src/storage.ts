import { BaasError } from "./errors.js";
import { errorFromResponse, type HttpClient } from "./http.js";

export interface StoredObject {
  bucket: string;
  path: string;
  size: number;
  contentType: string;
  sha256: string;
  metadata: Record<string, string>;
  owner: string | null;
  createTime: string;
  updateTime: string;
}

export interface ObjectList {
  objects: StoredObject[];
  prefixes: string[];
  nextCursor: string | null;
}

export interface UploadProgress {
  loaded: number;
  /** Null when the size is not known in advance. */
  total: number | null;
}

export type UploadData = Blob | Uint8Array | ArrayBuffer | string;

export interface UploadOptions {
  /** Defaults to the Blob's/File's type, else application/octet-stream (text/plain for strings). */
  contentType?: string;
  metadata?: Record<string, string>;
  /** Only create: 409 `already_exists` when the path holds an object. */
  createOnly?: boolean;
  /** Only replace this content (the object's sha256): 412 otherwise. */
  ifSha256?: string;
  onProgress?: (progress: UploadProgress) => void;
  signal?: AbortSignal;
}

const CHUNK = 64 * 1024;

function objectPath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

/** Objects of one bucket: `client.storage.bucket("avatars")`. */
export class Bucket {
  constructor(
    private readonly http: HttpClient,
    readonly name: string,
  ) {}

  private path(suffix = ""): string {
    return `/buckets/${encodeURIComponent(this.name)}/objects${suffix}`;
  }

  /**
   * Upload bytes to `path`, reporting progress. Browsers and React Native send through
   * XMLHttpRequest (the one API with upload progress); elsewhere (Node) the body is a
   * stream whose chunks are counted as the connection takes them.
   */
  async upload(path: string, data: UploadData, options: UploadOptions = {}): Promise<StoredObject> {
    const { headers } = await this.http.headers({});
    const blobType = typeof Blob !== "undefined" && data instanceof Blob ? data.type : "";
    headers["Content-Type"] =
      options.contentType || blobType || (typeof data === "string" ? "text/plain; charset=utf-8" : "application/octet-stream");
    for (const [key, value] of Object.entries(options.metadata ?? {})) {
      headers[`X-Baas-Meta-${key}`] = encodeURIComponent(value);
    }
    if (options.createOnly) headers["If-None-Match"] = "*";
    if (options.ifSha256) headers["If-Match"] = `"${options.ifSha256}"`;
    const url = this.http.url(this.path(`/${objectPath(path)}`));
    const XHR = (globalThis as { XMLHttpRequest?: typeof XMLHttpRequest }).XMLHttpRequest;
    if (XHR && options.onProgress) return uploadWithXhr(XHR, url, headers, data, options);
    return this.uploadWithFetch(url, headers, data, options);
  }

  private async uploadWithFetch(url: string, headers: Record<string, string>, data: UploadData, options: UploadOptions): Promise<StoredObject> {
    // Without progress the data goes as it is (a Blob is never read into memory here).
    let init: RequestInit & { duplex?: string } = { method: "PUT", headers, body: data as BodyInit, signal: options.signal };
    if (options.onProgress) {
      const report = options.onProgress;
      const isBlob = typeof Blob !== "undefined" && data instanceof Blob;
      const bytes = isBlob ? null : toBytes(data as Exclude<UploadData, Blob>);
      const source = bytes ? chunks(bytes) : (data as Blob).stream();
      const total = bytes ? bytes.byteLength : (data as Blob).size;
      let loaded = 0;
      const counted = source.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            controller.enqueue(chunk);
            loaded += chunk.byteLength;
            report({ loaded, total });
          },
        }),
      );
      init = { ...init, body: counted, duplex: "half" };
      if (total === 0) report({ loaded: 0, total: 0 });
    }
    let response: Response;
    try {
      response = await this.http.fetch(url, init as RequestInit);
    } catch (cause) {
      if ((cause as { name?: string })?.name === "AbortError") throw cause;
      throw new BaasError("network_error", `Upload failed: ${String(cause)}`, { cause });
    }
    if (!response.ok) throw await errorFromResponse(response);
    return (await response.json()) as StoredObject;
  }

  /** The object's bytes; `range` [start, end] (inclusive) asks for part of them. */
  async download(path: string, options: { range?: [number, number?] } = {}): Promise<Uint8Array> {
    const response = await this.fetchObject(path, options.range);
    return new Uint8Array(await response.arrayBuffer());
  }

  /** The object as a Blob, with its content type. */
  async downloadBlob(path: string): Promise<Blob> {
    const response = await this.fetchObject(path);
    return response.blob();
  }

  async getMetadata(path: string): Promise<StoredObject> {
    return this.http.request("GET", this.path(`/${objectPath(path)}`), { query: { meta: 1 } });
  }

  /** A URL that downloads the object without a key until it expires. */
  async getSignedUrl(path: string, expiresInSeconds = 3600): Promise<{ url: string; expireTime: string }> {
    return this.http.request("POST", this.path(`/${objectPath(path)}:sign`), { body: { expiresIn: expiresInSeconds } });
  }

  async delete(path: string): Promise<void> {
    await this.http.request("DELETE", this.path(`/${objectPath(path)}`));
  }

  /** One page of objects in path order; `delimiter: "/"` groups folders into `prefixes`. */
  async list(options: { prefix?: string; delimiter?: string; limit?: number; cursor?: string } = {}): Promise<ObjectList> {
    const answer = await this.http.request<ObjectList>("GET", this.path(), { query: options });
    return { ...answer, nextCursor: answer.nextCursor ?? null };
  }

  /** Every object under `prefix`, page after page. */
  async *listAll(options: { prefix?: string; limit?: number } = {}): AsyncGenerator<StoredObject> {
    let cursor: string | undefined;
    do {
      const page = await this.list({ ...options, cursor });
      yield* page.objects;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }

  private async fetchObject(path: string, range?: [number, number?]): Promise<Response> {
    const headers: Record<string, string> = {};
    if (range) headers["Range"] = `bytes=${range[0]}-${range[1] ?? ""}`;
    return this.http.send("GET", this.path(`/${objectPath(path)}`), { headers });
  }
}

export class Storage {
  constructor(private readonly http: HttpClient) {}

  bucket(name: string): Bucket {
    return new Bucket(this.http, name);
  }
}

function toBytes(data: Exclude<UploadData, Blob>): Uint8Array {
  if (typeof data === "string") return new TextEncoder().encode(data);
  if (data instanceof Uint8Array) return data;
  return new Uint8Array(data);
}

/** Bytes as a stream of CHUNK-sized pieces, so progress moves as the connection takes them. */
function chunks(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.byteLength) {
        controller.close();
        return;
      }
      const chunk = bytes.subarray(offset, Math.min(bytes.byteLength, offset + CHUNK));
      offset += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
}

function uploadWithXhr(
  XHR: typeof XMLHttpRequest,
  url: string,
  headers: Record<string, string>,
  data: UploadData,
  options: UploadOptions,
): Promise<StoredObject> {
  return new Promise((resolve, reject) => {
    const xhr = new XHR();
    xhr.open("PUT", url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => options.onProgress?.({ loaded: event.loaded, total: event.lengthComputable ? event.total : null });
    xhr.onload = () => {
      const requestId = xhr.getResponseHeader("X-Request-Id");
      let body: unknown = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body as StoredObject);
      else {
        const inner = (body as { error?: { code: string; message: string; details?: Record<string, unknown> } })?.error;
        reject(new BaasError(inner?.code ?? "internal", inner?.message ?? `HTTP ${xhr.status}`, { status: xhr.status, details: inner?.details, requestId }));
      }
    };
    xhr.onerror = () => reject(new BaasError("network_error", "Upload failed: the connection was lost"));
    xhr.onabort = () => reject(new DOMException("The upload was aborted", "AbortError"));
    options.signal?.addEventListener("abort", () => xhr.abort());
    xhr.send(data as XMLHttpRequestBodyInit);
  });
}
