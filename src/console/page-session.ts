/**
 * Who is signed in, for the console's pages and the authorization endpoint:
 * as identity/identity.ts `identityMiddleware`, but a refusal a person can
 * act on reaches a browser as a page, not as JSON. Today that is one case: in
 * host mode the host's user has an email that another Gatehouse account
 * already holds (accounts/users.ts `linkExternalUser` never takes it over, 409
 * `email_taken`). Only an administrator can resolve that, so the page says
 * so. Clients that do not ask for HTML, and /api always, keep the JSON error.
 */
import type { Context, MiddlewareHandler } from "hono";
import { html } from "hono/html";
import { ApiError } from "../errors.js";
import type { IdentitySource } from "../identity/identity.js";
import type { SessionVariables } from "../identity/sessions.js";
import { page } from "./layout.js";

function wantsHtml(c: Context): boolean {
  return /\btext\/html\b/i.test(c.req.header("accept") ?? "");
}

function emailTakenPage(c: Context) {
  return page(
    c,
    "Account conflict",
    html`<div class="card">
      <h1>Account conflict</h1>
      <p class="error" role="alert">The email address of your account is already used by another account here, so you cannot be signed in.</p>
      <p>Ask an administrator to resolve it.</p>
    </div>`,
    409,
  );
}

export function pageSessionMiddleware(identity: IdentitySource): MiddlewareHandler<{ Variables: SessionVariables }> {
  return async function loadPageSession(c, next) {
    let session;
    try {
      session = await identity.session(c);
    } catch (error) {
      if (error instanceof ApiError && error.code === "email_taken" && wantsHtml(c)) return emailTakenPage(c);
      throw error;
    }
    c.set("session", session);
    await next();
  };
}
