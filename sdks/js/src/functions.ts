import type { HttpClient } from "./http.js";

/** Cloud functions: `call` runs one with `data` and answers its result. */
export class Functions {
  constructor(private readonly http: HttpClient) {}

  /**
   * A function that raised is a BaasError with code `function_error` (422); one past its
   * timeout is `deadline_exceeded` (504).
   */
  async call<R = unknown>(name: string, data: unknown = null, options: { signal?: AbortSignal } = {}): Promise<R> {
    const answer = await this.http.request<{ result: R }>("POST", `/functions/${encodeURIComponent(name)}:call`, {
      body: { data },
      signal: options.signal,
    });
    return answer.result;
  }
}
