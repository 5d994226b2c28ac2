import { BaasError, errorFromBody } from "./errors.js";

export type FetchLike = typeof fetch;

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined | null>;
  headers?: Record<string, string>;
  /** Send the signed-in user's access token (default true when one exists). */
  withUser?: boolean;
  /** Send no API key (the JWKS and OAuth routes take none). */
  withoutKey?: boolean;
  /** Return the raw Response instead of parsing JSON (downloads). */
  raw?: boolean;
  signal?: AbortSignal;
}

/** Supplies the access token for a call; set by Auth. */
export interface TokenSource {
  getAccessToken(): Promise<string | null>;
  /** Called after a 401 on a call that carried a token: refresh once, then retry. */
  forceRefresh(): Promise<string | null>;
}

/** The one place requests are made: key, bearer token, errors in the API's shape. */
export class HttpClient {
  readonly baseUrl: string;
  readonly projectId: string;
  readonly apiKey: string;
  readonly fetch: FetchLike;
  tokens: TokenSource | null = null;

  constructor(baseUrl: string, projectId: string, apiKey: string, fetchImpl?: FetchLike) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.projectId = projectId;
    this.apiKey = apiKey;
    const found = fetchImpl ?? (globalThis.fetch as FetchLike | undefined);
    if (!found) throw new Error("No fetch in this environment: pass options.fetch");
    this.fetch = found.bind(globalThis) as FetchLike;
  }

  /** The URL of a path under the project (`/collections/x` -> `…/v1/projects/p/collections/x`). */
  url(path: string, query?: RequestOptions["query"]): string {
    let url = `${this.baseUrl}/v1/projects/${encodeURIComponent(this.projectId)}${path}`;
    if (query) {
      const params = new URLSearchParams();
      for (const [name, value] of Object.entries(query)) {
        if (value !== undefined && value !== null) params.set(name, String(value));
      }
      const text = params.toString();
      if (text) url += `?${text}`;
    }
    return url;
  }

  async headers(options: RequestOptions): Promise<{ headers: Record<string, string>; token: string | null }> {
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (!options.withoutKey) headers["X-Api-Key"] = this.apiKey;
    let token: string | null = null;
    if (options.withUser !== false && this.tokens) {
      token = await this.tokens.getAccessToken();
      if (token) headers["Authorization"] = `Bearer ${token}`;
    }
    return { headers, token };
  }

  async request<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.send(method, path, options);
    if (options.raw) return response as unknown as T;
    if (response.status === 204 || response.status === 304) return undefined as T;
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Send and turn any non-2xx answer into a BaasError; retries once after a refresh on 401. */
  async send(method: string, path: string, options: RequestOptions = {}, retried = false): Promise<Response> {
    const { headers, token } = await this.headers(options);
    let body: BodyInit | undefined;
    if (options.body !== undefined) {
      headers["Content-Type"] ??= "application/json";
      body = JSON.stringify(options.body);
    }
    let response: Response;
    try {
      response = await this.fetch(this.url(path, options.query), { method, headers, body, signal: options.signal });
    } catch (cause) {
      if ((cause as { name?: string })?.name === "AbortError") throw cause;
      throw new BaasError("network_error", `Could not reach ${this.baseUrl}: ${String(cause)}`, { cause });
    }
    if (response.ok || response.status === 304) return response;
    if (response.status === 401 && token && !retried && this.tokens) {
      await response.body?.cancel();
      const fresh = await this.tokens.forceRefresh().catch(() => null);
      if (fresh && fresh !== token) return this.send(method, path, options, true);
    }
    throw await errorFromResponse(response);
  }
}

export async function errorFromResponse(response: Response): Promise<BaasError> {
  const requestId = response.headers.get("X-Request-Id");
  let body: unknown = null;
  try {
    body = JSON.parse(await response.text());
  } catch {
    body = null;
  }
  return errorFromBody(response.status, body, requestId);
}
