/**
 * Sign-in with an OpenID Connect provider (identity/oidc.ts): /login sends
 * the browser to the provider, the provider sends it back to
 * /login/oidc/callback, which starts a console session as the local sign-in
 * does and goes on to `return_to` (same-origin paths only, as with /login).
 *
 * The attempt is bound to the browser by an HttpOnly cookie holding a random
 * token whose hash is stored with the state: a callback URL carried to
 * another browser (login CSRF, a leaked link) is refused. SameSite=Lax, not
 * Strict: the callback is a top-level navigation from the provider's site.
 */
import type { Context } from "hono";
import { Hono } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { randomToken } from "../crypto.js";
import { OIDC_CALLBACK_PATH, OIDC_SIGNED_OUT_PATH, OIDC_STATE_TTL_MS, OidcRefusal, type OidcSignIn } from "../identity/oidc.js";
import { html } from "hono/html";
import { hostCookieName, type SessionStore, type SessionVariables } from "../identity/sessions.js";
import { safeReturnTo } from "./auth-routes.js";
import { errorPage, page } from "./layout.js";
import { consoleHref } from "./paths.js";

export interface OidcRoutesDeps {
  signIn: OidcSignIn;
  sessions: SessionStore;
  publicUrl: string;
  secureCookies: boolean;
}

export function oidcRoutes(deps: OidcRoutesDeps) {
  const app = new Hono<{ Variables: SessionVariables }>();
  const bindingCookie = hostCookieName("gh_oidc", deps.secureCookies);

  // One binding per browser while attempts are pending: two tabs signing in at once both still finish.
  const browserBinding = (c: Context) => {
    const existing = getCookie(c, bindingCookie);
    const token = existing && /^[A-Za-z0-9_-]{43}$/.test(existing) ? existing : randomToken();
    setCookie(c, bindingCookie, token, {
      path: "/", httpOnly: true, sameSite: "Lax", secure: deps.secureCookies, maxAge: OIDC_STATE_TTL_MS / 1000,
    });
    return token;
  };

  const refused = (c: Context, error: unknown) => {
    if (error instanceof OidcRefusal) return errorPage(c, error.title, error.message, error.status);
    throw error;
  };

  app.get("/login", async (c) => {
    const returnTo = safeReturnTo(c, c.req.query("return_to"));
    if (c.var.session) return c.redirect(returnTo, 303);
    try {
      return c.redirect((await deps.signIn.begin(browserBinding(c), returnTo)).href, 303);
    } catch (error) {
      return refused(c, error);
    }
  });

  app.get(OIDC_CALLBACK_PATH, async (c) => {
    // Checked against the registered redirect URI, so built from the public URL, not from the Host header.
    const callback = new URL(deps.signIn.redirectUri);
    callback.search = new URL(c.req.url).search;
    try {
      const { userId, returnTo } = await deps.signIn.finish(callback, getCookie(c, bindingCookie));
      await deps.sessions.start(c, userId);
      return c.redirect(returnTo, 303);
    } catch (error) {
      return refused(c, error);
    }
  });

  app.get(OIDC_SIGNED_OUT_PATH, (c) =>
    page(
      c,
      "Signed out",
      html`<div class="card">
        <h1>Signed out</h1>
        <p>You are signed out of Gatehouse. Your sign-in provider may still have you signed in.</p>
        <p><a href="${consoleHref(c, "/login")}">Sign in again</a></p>
      </div>`,
    ),
  );

  return app;
}
