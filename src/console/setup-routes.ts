/**
 * `/setup?token=…`: the one-time link printed by `gatehouse start` (first
 * account) or `gatehouse user add` (set a password). The token is taken
 * atomically on submit, so it works once even under concurrent submits.
 */
import { Hono, type Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { peekSetupToken, redeemSetupToken } from "../accounts/setup-links.js";
import { checkPassword, countUsers, createUser, findUserById, normalizeEmail, setPassword } from "../accounts/users.js";
import { randomToken } from "../crypto.js";
import { ApiError } from "../errors.js";
import type { Db } from "../storage/db.js";
import type { KvStore } from "../storage/kv/kv.js";
import { errorPage } from "./layout.js";
import { setupPage } from "./pages/setup.js";
import { consoleHref } from "./paths.js";
import { requireCsrf } from "./csrf.js";
import { hostCookieName, type SessionStore, type SessionVariables } from "../identity/sessions.js";

export interface SetupDeps {
  db: Db;
  kv: KvStore;
  sessions: SessionStore;
  publicOrigin: string;
  secureCookies: boolean;
}

export function setupRoutes(deps: SetupDeps) {
  const app = new Hono<{ Variables: SessionVariables }>();
  // Double-submit CSRF. On https: `__Host-` (Secure, Path=/, no Domain), so no sibling subdomain can plant it;
  // the prefix requires Path=/. On http the plain name, scoped to /setup (under the console path).
  const csrfCookie = hostCookieName("gh_setup_csrf", deps.secureCookies);
  const csrfCookiePath = (c: Context) => (deps.secureCookies ? "/" : consoleHref(c, "/setup"));
  const invalid = (c: Parameters<typeof errorPage>[0]) =>
    errorPage(c, "Link not valid", "This setup link is invalid, expired or already used. Ask for a new one (gatehouse user add).", 404);

  app.get("/setup", async (c) => {
    const token = c.req.query("token") ?? "";
    const purpose = await peekSetupToken(deps.kv, token);
    if (!purpose || (purpose.kind === "first-account" && (await countUsers(deps.db)) > 0)) return invalid(c);
    const csrf = randomToken();
    setCookie(c, csrfCookie, csrf, { path: csrfCookiePath(c), httpOnly: true, sameSite: "Strict", secure: deps.secureCookies });
    const email = purpose.kind === "set-password" ? (await findUserById(deps.db, purpose.userId))?.email : undefined;
    return setupPage(c, { token, csrfToken: csrf, kind: purpose.kind, ...(email ? { email } : {}) });
  });

  const setupCsrfCheck = requireCsrf({
    publicOrigin: deps.publicOrigin,
    expected: (c) => getCookie(c, csrfCookie),
    refuse: (c) => errorPage(c, "Request refused", "The form could not be verified. Open the link again.", 403),
  });
  app.post("/setup", setupCsrfCheck, async (c) => {
    const body = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    const field = (name: string) => (typeof body[name] === "string" ? (body[name] as string) : "");
    const cookie = getCookie(c, csrfCookie)!;
    const token = field("token");
    const peeked = await peekSetupToken(deps.kv, token);
    if (!peeked) return invalid(c);
    const password = field("password");
    const email = field("email");
    try {
      // Validate before taking the token, so a typo does not burn the link.
      checkPassword(password);
      if (peeked.kind === "first-account") normalizeEmail(email);
      const purpose = await redeemSetupToken(deps.kv, token);
      if (!purpose) return invalid(c);
      let userId: string;
      if (purpose.kind === "first-account") {
        if ((await countUsers(deps.db)) > 0) return invalid(c);
        userId = (await createUser(deps.db, { email, password, role: "admin" })).id;
      } else {
        await setPassword(deps.db, purpose.userId, password);
        userId = purpose.userId;
      }
      await deps.sessions.start(c, userId);
      return c.redirect(consoleHref(c, "/user"), 303);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      return setupPage(c, { token, csrfToken: cookie, kind: peeked.kind, email, error: error.message }, 400);
    }
  });
  return app;
}
