/**
 * Console sessions: server-side rows (`console_sessions`) keyed by
 * the SHA-256 of a random cookie value, so signing out really ends them.
 * The cookie is HttpOnly, SameSite=Lax, and `__Host-` + Secure on https.
 * Both identity sources keep one per browser: the local one from sign-in to
 * sign-out, the host one for the host user it was started for (identity/host.ts).
 */
import { and, desc, eq, gt, isNull, lt, ne, notInArray } from "drizzle-orm";
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { Clock } from "../clock.js";
import { hmac, randomToken, sha256Hex } from "../crypto.js";
import type { Db } from "../storage/db.js";
import { consoleSessions, users } from "../storage/schema.js";

export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

export interface ConsoleSession {
  idHash: string;
  userId: string;
  email: string;
  csrfSecret: string;
  /**
   * Derived from the cookie value, which the server never stores: what is
   * sealed under it (a new API key awaiting display) only this browser's
   * requests can open.
   */
  browserSecret: string;
}

export type SessionVariables = { session: ConsoleSession | null };

export interface SessionDeps {
  db: Db;
  clock: Clock;
  secureCookies: boolean;
}

/**
 * RFC 6265bis §4.1.3.2: a `__Host-` cookie must be Secure, Path=/ and carry
 * no Domain, so a sibling subdomain or a plain-http page cannot plant or
 * overwrite it. Browsers refuse the prefix without Secure, so on an http
 * public URL (localhost development) the plain name is used.
 */
export function hostCookieName(name: string, secure: boolean): string {
  return secure ? `__Host-${name}` : name;
}

export function sessionCookieName(secure: boolean): string {
  return hostCookieName("gh_session", secure);
}

function cookieOptions(secure: boolean, maxAgeSeconds?: number) {
  return {
    path: "/",
    httpOnly: true,
    sameSite: "Lax" as const,
    secure,
    ...(maxAgeSeconds === undefined ? {} : { maxAge: maxAgeSeconds }),
  };
}

export class SessionStore {
  constructor(private readonly deps: SessionDeps) {}

  /** Starts a fresh session (a new id on every sign-in: no fixation) and sets the cookie. */
  async start(c: Context, userId: string): Promise<ConsoleSession> {
    await this.end(c);
    const token = randomToken();
    const now = this.deps.clock.now();
    const csrfSecret = randomToken();
    const idHash = sha256Hex(token);
    await this.deps.db.insert(consoleSessions).values({
      idHash,
      userId,
      csrfSecret,
      createdAt: new Date(now),
      expiresAt: new Date(now + SESSION_TTL_MS),
    });
    setCookie(c, sessionCookieName(this.deps.secureCookies), token, cookieOptions(this.deps.secureCookies, SESSION_TTL_MS / 1000));
    const [user] = await this.deps.db.select({ email: users.email }).from(users).where(eq(users.id, userId));
    return { idHash, userId, email: user?.email ?? "", csrfSecret, browserSecret: hmac(token, "console browser secret") };
  }

  async load(c: Context): Promise<ConsoleSession | null> {
    const token = getCookie(c, sessionCookieName(this.deps.secureCookies));
    if (!token || token.length > 200) return null;
    const [row] = await this.deps.db
      .select({
        idHash: consoleSessions.idHash,
        userId: consoleSessions.userId,
        csrfSecret: consoleSessions.csrfSecret,
        email: users.email,
      })
      .from(consoleSessions)
      .innerJoin(users, eq(users.id, consoleSessions.userId))
      // A disabled account's sessions are deleted with it; the check also covers one started meanwhile.
      .where(
        and(eq(consoleSessions.idHash, sha256Hex(token)), gt(consoleSessions.expiresAt, new Date(this.deps.clock.now())), isNull(users.disabledAt)),
      );
    return row ? { ...row, browserSecret: hmac(token, "console browser secret") } : null;
  }

  async end(c: Context): Promise<void> {
    const token = getCookie(c, sessionCookieName(this.deps.secureCookies));
    if (token) await this.deps.db.delete(consoleSessions).where(eq(consoleSessions.idHash, sha256Hex(token)));
    deleteCookie(c, sessionCookieName(this.deps.secureCookies), cookieOptions(this.deps.secureCookies));
  }

  /**
   * Keeps the user's `keep` newest sessions (the given one always among them)
   * and deletes the rest: a source that starts sessions without a sign-in
   * form (host mode) must not let a cookie-less client grow rows without end.
   */
  async trim(userId: string, current: string, keep: number): Promise<void> {
    const others = this.deps.db
      .select({ idHash: consoleSessions.idHash })
      .from(consoleSessions)
      .where(and(eq(consoleSessions.userId, userId), ne(consoleSessions.idHash, current)))
      .orderBy(desc(consoleSessions.createdAt), desc(consoleSessions.idHash))
      .limit(Math.max(keep - 1, 0));
    await this.deps.db
      .delete(consoleSessions)
      .where(and(eq(consoleSessions.userId, userId), ne(consoleSessions.idHash, current), notInArray(consoleSessions.idHash, others)));
  }

  async sweep(): Promise<number> {
    const rows = await this.deps.db
      .delete(consoleSessions)
      .where(lt(consoleSessions.expiresAt, new Date(this.deps.clock.now())))
      .returning({ id: consoleSessions.idHash });
    return rows.length;
  }
}
