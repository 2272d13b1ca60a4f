/**
 * The console's side of the authorization endpoint (oauth/authorize.ts
 * `AuthorizeUi`): who is signed in (the session the identity source gave,
 * identity/identity.ts), where to sign in, the consent and error
 * pages, and the consent form's CSRF check — the same check every console
 * form uses, with a token bound to the pending request.
 */
import type { Context } from "hono";
import type { AuthorizeUi } from "../oauth/authorize.js";
import { csrfToken, verifyCsrf } from "./csrf.js";
import { errorPage } from "./layout.js";
import { consentPage } from "./pages/consent.js";
import { errorNoticePage } from "./pages/error-notice.js";
import type { ScopeCatalog } from "./scopes.js";
import type { SessionVariables } from "../identity/sessions.js";

function sessionOf(c: Context) {
  return (c.var as SessionVariables).session;
}

export function consentUi(deps: { publicOrigin: string; catalog: ScopeCatalog; signInUrl(returnTo: string): string }): AuthorizeUi {
  return {
    currentUser(c) {
      const session = sessionOf(c);
      return session ? { userId: session.userId, email: session.email } : null;
    },
    // The identity source's sign-in: Gatehouse's /login, or the embedding app's page.
    signInUrl: (returnTo) => deps.signInUrl(returnTo),
    renderConsent(c, pending, user) {
      const session = sessionOf(c)!;
      return consentPage(c, pending, user, {
        consent: csrfToken(session, `consent:${pending.id}`),
        logout: csrfToken(session, "logout"),
      }, deps.catalog);
    },
    renderError: (c, title, message, status) => errorPage(c, title, message, status),
    renderErrorNotice: (c, notice) => errorNoticePage(c, notice),
    checkDecisionRequest(c, requestId, token) {
      const session = sessionOf(c);
      return !!session && verifyCsrf(c, deps.publicOrigin, csrfToken(session, `consent:${requestId}`), token);
    },
  };
}
