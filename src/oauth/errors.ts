/**
 * One OAuth error type and one code → status table. Handlers throw
 * `OAuthError`; app/errors.ts calls `toResponse` — the only place an OAuth
 * error becomes bytes. Every body is RFC 6749 §5.2 JSON with no-store.
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

export type OAuthErrorCode =
  // RFC 6749 §4.1.2.1, §5.2
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "unsupported_response_type"
  | "invalid_scope"
  | "access_denied"
  | "server_error"
  | "temporarily_unavailable"
  // RFC 8707 §2
  | "invalid_target"
  // RFC 7591 §3.2.2
  | "invalid_redirect_uri"
  | "invalid_client_metadata"
  // RFC 7009 §2.2.1
  | "unsupported_token_type"
  // RFC 6750 §3.1
  | "invalid_token"
  | "insufficient_scope"
  // Not an RFC code: the limiter's answer (429).
  | "slow_down"
  // Not an RFC code: a request with no credentials at all, which RFC 6750 §3.1 gives no error code (401).
  | "unauthorized";

const STATUS: Partial<Record<OAuthErrorCode, ContentfulStatusCode>> = {
  invalid_client: 401,
  invalid_token: 401,
  unauthorized: 401,
  insufficient_scope: 403,
  server_error: 500,
  temporarily_unavailable: 503,
  slow_down: 429,
};

export const NO_STORE_HEADERS = { "Cache-Control": "no-store", Pragma: "no-cache" } as const;

export class OAuthError extends Error {
  readonly status: ContentfulStatusCode;
  constructor(
    readonly code: OAuthErrorCode,
    readonly description: string,
    options: { status?: ContentfulStatusCode; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(`${code}: ${description}`, { cause: options.cause });
    this.name = "OAuthError";
    this.status = options.status ?? STATUS[code] ?? 400;
    this.headers = options.headers ?? {};
  }
  readonly headers: Record<string, string>;

  toResponse(_c?: Context): Response {
    return new Response(JSON.stringify({ error: this.code, error_description: this.description }), {
      status: this.status,
      headers: { "Content-Type": "application/json", ...NO_STORE_HEADERS, ...this.headers },
    });
  }
}

/** RFC 6749 §5.2: a client that authenticated with HTTP Basic gets 401 and a Basic challenge. */
export function invalidClient(description: string, usedBasic: boolean): OAuthError {
  return new OAuthError("invalid_client", description, {
    status: 401,
    headers: usedBasic ? { "WWW-Authenticate": 'Basic realm="gatehouse", charset="UTF-8"' } : {},
  });
}
