/**
 * The console's one CSRF check (AZ-17, THREATS): a write must come from our
 * own origin (Sec-Fetch-Site or Origin) and carry the token its form was
 * given, compared in constant time. Signed-in forms get a token bound to the
 * session and to what the form does; sign-in and setup, with no session yet,
 * a double-submit cookie. `requireCsrf` guards a route; `verifyCsrf` is the
 * same check for a handler that must decide itself (the consent decision).
 */
import type { Context, MiddlewareHandler } from "hono";
import { constantTimeEqual, hmac } from "../crypto.js";
import type { ConsoleSession, SessionVariables } from "../identity/sessions.js";

/** A CSRF token bound to the session and to what the form does. */
export function csrfToken(session: ConsoleSession, purpose: string): string {
  return hmac(session.csrfSecret, purpose);
}

/**
 * Rejects cross-site writes: a browser sends Sec-Fetch-Site or Origin with
 * every POST; either must say same-origin.
 */
export function isSameOriginWrite(c: Context, publicOrigin: string): boolean {
  const site = c.req.header("sec-fetch-site");
  if (site !== undefined) return site === "same-origin" || site === "none";
  const origin = c.req.header("origin");
  if (origin !== undefined) return origin === publicOrigin;
  return true;
}

export function verifyCsrf(c: Context, publicOrigin: string, expected: string | undefined, presented: string | undefined): boolean {
  return isSameOriginWrite(c, publicOrigin) && !!expected && !!presented && constantTimeEqual(expected, presented);
}

type Ctx = Context<{ Variables: SessionVariables }>;

export interface CsrfOptions {
  publicOrigin: string;
  /** The token this request must carry, or undefined when it cannot carry a valid one. */
  expected(c: Ctx): string | undefined;
  /** Where the request carries it: the form's `csrf_token` field (default) or the `X-CSRF-Token` header. */
  from?: "form" | "header";
  /** Which requests are checked (default: all that reach the middleware). */
  when?(c: Ctx): boolean;
  /** The answer to a request that fails the check. */
  refuse(c: Ctx): Response | Promise<Response>;
}

export function requireCsrf(options: CsrfOptions): MiddlewareHandler<{ Variables: SessionVariables }> {
  const from = options.from ?? "form";
  return async function checkCsrf(c, next) {
    if (options.when && !options.when(c)) return next();
    const presented = from === "header" ? c.req.header("x-csrf-token") : await formField(c, "csrf_token");
    if (!verifyCsrf(c, options.publicOrigin, options.expected(c), presented)) return options.refuse(c);
    return next();
  };
}

/** A field of the posted form (Hono caches the parsed body, so the handler reads it again for free). */
export async function formField(c: Context, name: string): Promise<string | undefined> {
  const body = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
  const value = body[name];
  return typeof value === "string" ? value : undefined;
}

/** The expected token for a signed-in form with this purpose. */
export function sessionBound(purpose: string) {
  return (c: Ctx) => (c.var.session ? csrfToken(c.var.session, purpose) : undefined);
}
