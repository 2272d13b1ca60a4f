/**
 * The one place where errors become responses. Handlers throw; they never
 * format. Unknown errors become a generic `server_error` and are logged with
 * their cause; clients never see stack traces or internal messages.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { DatabaseUnavailableError } from "../storage/db.js";
import { ApiError } from "../errors.js";
import type { Logger } from "../logger.js";
import { markUnrouted } from "../web/unrouted.js";

/** Errors that know how to render themselves (OAuth, MCP, pages) implement this. */
export interface RenderableError {
  toResponse(c: Context): Response | Promise<Response>;
}

function isRenderable(error: unknown): error is RenderableError {
  return typeof (error as Partial<RenderableError>)?.toResponse === "function";
}

const NO_STORE = { "Cache-Control": "no-store", Pragma: "no-cache" };

function json(status: ContentfulStatusCode, body: Record<string, string>, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...NO_STORE, ...headers },
  });
}

/** True when the database is unreachable: the right answer is 503 + Retry-After, not 500. */
export function isDatabaseDown(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof DatabaseUnavailableError) return true;
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|57P01|57P02|57P03|08\d{3})$/.test(code)) return true;
    const message = (e as { message?: unknown }).message;
    // "… is not queryable": a transaction's ROLLBACK on the lost connection, thrown in place of the first error.
    if (typeof message === "string" && /Connection terminated|timeout exceeded when trying to connect|is not queryable|PGlite is closed/i.test(message)) return true;
  }
  return false;
}

/** PostgreSQL refused text it cannot encode (22021, 22P05): the input was bad, not the server. */
function isUnstorableInput(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === "22021" || code === "22P05") return true;
  }
  return false;
}

export function errorHandler(logger: Logger) {
  return async function onError(error: Error, c: Context): Promise<Response> {
    if (isRenderable(error)) return error.toResponse(c);
    if (error instanceof ApiError) {
      return json(error.status, { error: error.code, error_description: error.message }, error.headers);
    }
    if (error instanceof HTTPException) {
      const status = error.status as ContentfulStatusCode;
      return json(status, { error: status === 413 ? "request_too_large" : "invalid_request", error_description: error.message || "bad request" });
    }
    if (isUnstorableInput(error)) {
      return json(400, { error: "invalid_request", error_description: "The request contains characters that cannot be stored." });
    }
    if (isDatabaseDown(error)) {
      logger.warn("database unavailable", { path: c.req.path, error });
      return json(503, { error: "temporarily_unavailable", error_description: "The service is temporarily unavailable." }, { "Retry-After": "5" });
    }
    logger.error("unhandled error", { method: c.req.method, path: c.req.path, error });
    return json(500, { error: "server_error", error_description: "An internal error occurred." });
  };
}

/** No route here: the Node adapter, when asked, hands the request on to the host app instead (web/unrouted.ts). */
export function notFound(c: Context): Response {
  markUnrouted(c.env);
  return json(404, { error: "not_found", error_description: "Not found." });
}
