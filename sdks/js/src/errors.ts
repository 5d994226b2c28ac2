/** Errors carry the API's own codes, so apps branch on `error.code`, never on messages. */

export type ErrorCode =
  | "invalid_argument"
  | "unauthenticated"
  | "permission_denied"
  | "not_found"
  | "method_not_allowed"
  | "already_exists"
  | "aborted"
  | "failed_precondition"
  | "payload_too_large"
  | "unsupported_media_type"
  | "range_not_satisfiable"
  | "function_error"
  | "resource_exhausted"
  | "resume_expired"
  | "internal"
  | "unavailable"
  | "deadline_exceeded"
  /** The request never got an answer (offline, DNS, connection reset). */
  | "network_error";

export class BaasError extends Error {
  readonly code: ErrorCode | string;
  /** HTTP status; 0 when there was no answer (network errors, realtime messages). */
  readonly status: number;
  readonly details: Record<string, unknown>;
  readonly requestId: string | null;

  constructor(
    code: ErrorCode | string,
    message: string,
    options: { status?: number; details?: Record<string, unknown>; requestId?: string | null; cause?: unknown } = {},
  ) {
    super(message);
    this.name = "BaasError";
    this.code = code;
    this.status = options.status ?? 0;
    this.details = options.details ?? {};
    this.requestId = options.requestId ?? null;
    if (options.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}

/** True when `error` is a BaasError (with that code, when one is given). */
export function isBaasError(error: unknown, code?: ErrorCode): error is BaasError {
  return error instanceof BaasError && (code === undefined || error.code === code);
}

/** Build the error from an answer in the API's shape `{"error": {code, message, details}}`. */
export function errorFromBody(status: number, body: unknown, requestId: string | null): BaasError {
  const inner = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
  if (inner && typeof inner.code === "string") {
    return new BaasError(inner.code, typeof inner.message === "string" ? inner.message : inner.code, {
      status,
      details: (inner.details as Record<string, unknown>) ?? {},
      requestId,
    });
  }
  return new BaasError(status >= 500 ? "internal" : "invalid_argument", `HTTP ${status}`, { status, requestId });
}
