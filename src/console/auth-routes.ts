/**
 * Sign-in and sign-out. With the `host` identity source the embedding app
 * signs people in: /login only forwards to its sign-in page, and sign-out
 * ends Gatehouse's console session and goes on to the host's sign-out.
 *
 * Local sign-in gives the same answer for an unknown email and a wrong
 * password (and the same scrypt cost); a new session id on every sign-in.
 *
 * Throttling (across nodes) must not let a stranger lock the owner out, so
 * no limit refuses an account to everyone: attempts are refused per address
 * and per (address, account); an account-wide count of wrong passwords only
 * slows every attempt on that account down, and the right password still
 * signs in after its check.
 */
import type { Context } from "hono";
import { Hono } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { findUserByEmail } from "../accounts/users.js";
import { DUMMY_PASSWORD_HASH, randomToken, verifyPassword } from "../crypto.js";
import { clientIp } from "../web/client-ip.js";
import type { RateLimit } from "../storage/rate-limit.js";
import type { Db } from "../storage/db.js";
import type { IdentitySource } from "../identity/identity.js";
import { errorPage } from "./layout.js";
import { loginPage } from "./pages/login.js";
import { consoleHref } from "./paths.js";
import { requireCsrf, sessionBound } from "./csrf.js";
import { hostCookieName, type SessionStore, type SessionVariables } from "../identity/sessions.js";

export interface AuthRoutesDeps {
  db: Db;
  sessions: SessionStore;
  identity: IdentitySource;
  publicOrigin: string;
  secureCookies: boolean;
  trustProxy: boolean;
  /** Every attempt from one address, refused past the limit. */
  loginLimitByIp: RateLimit;
  /** Attempts on one account from one address, refused past the limit; a successful sign-in resets it. */
  loginLimitByIpAccount: RateLimit;
  /** Wrong passwords for one account from anywhere: past the limit, attempts on it are slowed, never refused. */
  loginLimitByAccount: RateLimit;
  /** How long each attempt on an account over its account-wide limit waits before the password is checked. */
  slowDownMs?: number;
}

const DEFAULT_SLOW_DOWN_MS = 1000;

/** Only same-origin paths: never `//host`, `/\host` or an absolute URL (no open redirect); otherwise /user. */
export function safeReturnTo(c: Context, raw: string | undefined): string {
  const fallback = consoleHref(c, "/user");
  if (!raw || raw.length > 4000 || !raw.startsWith("/") || raw.startsWith("//") || raw.startsWith("/\\")) return fallback;
  if ([...raw].some((ch) => ch.charCodeAt(0) < 0x20 || ch === "\\")) return fallback;
  return raw;
}

function field(body: Record<string, unknown>, name: string): string | undefined {
  const value = body[name];
  return typeof value === "string" ? value : undefined;
}

export function authRoutes(deps: AuthRoutesDeps) {
  const app = new Hono<{ Variables: SessionVariables }>();

  // Login CSRF: a double-submit token, since there is no session yet. On https the cookie is `__Host-`, so a
  // sibling subdomain cannot plant a value of its choosing beside a form it also controls.
  const csrfCookie = hostCookieName("gh_login_csrf", deps.secureCookies);
  const loginCsrf = (c: Context) => {
    const existing = getCookie(c, csrfCookie);
    if (existing && /^[A-Za-z0-9_-]{43}$/.test(existing)) return existing;
    const token = randomToken();
    setCookie(c, csrfCookie, token, { path: "/", httpOnly: true, sameSite: "Strict", secure: deps.secureCookies });
    return token;
  };

  app.get("/login", (c) => {
    const returnTo = safeReturnTo(c, c.req.query("return_to"));
    if (c.var.session) return c.redirect(returnTo, 303);
    if (deps.identity.kind === "host") return c.redirect(deps.identity.signInUrl(returnTo), 303);
    return loginPage(c, { csrfToken: loginCsrf(c), returnTo });
  });

  const loginCsrfCheck = requireCsrf({
    publicOrigin: deps.publicOrigin,
    expected: (c) => getCookie(c, csrfCookie),
    refuse: (c) => errorPage(c, "Request refused", "The sign-in form could not be verified. Reload the page and try again.", 403),
  });
  app.post("/login", (c, next) => (deps.identity.kind !== "local" ? c.notFound() : next()), loginCsrfCheck, async (c) => {
    const body = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    const returnTo = safeReturnTo(c, field(body, "return_to"));
    const email = (field(body, "email") ?? "").slice(0, 320);
    const password = (field(body, "password") ?? "").slice(0, 1024);
    const cookieToken = getCookie(c, csrfCookie)!;
    const ip = clientIp(c, deps.trustProxy);
    const account = email.trim().toLowerCase();
    const pair = `${ip} ${account}`;
    const retry = (await deps.loginLimitByIp.consume(ip)) ?? (await deps.loginLimitByIpAccount.consume(pair));
    if (retry !== null) {
      c.header("Retry-After", String(retry));
      return loginPage(c, { csrfToken: cookieToken, returnTo, email, error: "Too many attempts. Wait a little and try again." }, 429);
    }
    // Guessing spread over many addresses: slow every attempt on the account, right or wrong alike (so the
    // delay tells nothing), instead of refusing it — a refusal here would be a lock-out anyone can trigger.
    if (await deps.loginLimitByAccount.exceeded(account)) {
      await new Promise((resolve) => setTimeout(resolve, deps.slowDownMs ?? DEFAULT_SLOW_DOWN_MS));
    }
    const user = await findUserByEmail(deps.db, email);
    const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_PASSWORD_HASH);
    if (!user || !user.passwordHash || !ok) {
      await deps.loginLimitByAccount.consume(account);
      return loginPage(c, { csrfToken: cookieToken, returnTo, email, error: "That email and password do not match an account." }, 401);
    }
    await deps.loginLimitByIpAccount.reset(pair);
    // Said only to someone who knows the password: nobody else learns the account exists.
    if (user.disabled) {
      return loginPage(c, { csrfToken: cookieToken, returnTo, email, error: "This account is disabled. Ask your administrator." }, 403);
    }
    await deps.sessions.start(c, user.id);
    return c.redirect(returnTo, 303);
  });

  const logoutCsrfCheck = requireCsrf({
    publicOrigin: deps.publicOrigin,
    expected: sessionBound("logout"),
    // Already signed out: nothing to protect, the browser just goes to the sign-in page.
    when: (c) => c.var.session !== null,
    refuse: (c) => errorPage(c, "Request refused", "The sign-out form could not be verified.", 403),
  });
  app.post("/logout", logoutCsrfCheck, async (c) => {
    const body = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    const returnTo = safeReturnTo(c, field(body, "return_to"));
    return c.redirect(c.var.session ? await deps.identity.signOut(c, returnTo) : deps.identity.signInUrl(returnTo), 303);
  });

  return app;
}
