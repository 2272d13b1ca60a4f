/**
 * The `host` identity source: the embedding app signs people in, Gatehouse
 * asks it who that is on every console request (its own session cookie, its
 * own rules) and never shows a sign-in page of its own.
 *
 * Accounts: the host's user id is the link. The first time a host user is
 * seen, a `users` row is created with `identity_source = 'host'` and
 * `subject = <host id>`; later the row is found by that pair, never by email
 * (accounts/users.ts `linkExternalUser`), and its email follows the host's.
 *
 * CSRF: the console's forms are bound to a per-browser secret, and the host's
 * session is not ours to read. So on first sight of a host user in a browser
 * Gatehouse starts its own console session row (its own HttpOnly cookie) for
 * that user; its CSRF secret binds the forms, as in local mode. A session is
 * used only while the host still says the same user is signed in: another
 * host user in the same browser gets a fresh one, so no token of the first
 * user's pages is valid for the second.
 *
 * Those rows are started without any sign-in step of ours, so a client that
 * drops our cookie (a script holding only the host's) would start one per
 * request: each user keeps at most MAX_SESSIONS_PER_USER, newest first. A
 * browser whose row was dropped gets a fresh one on its next page; only a
 * form it already shows goes stale (403, "reload the page").
 */
import type { Context } from "hono";
import { linkExternalUser } from "../accounts/users.js";
import type { Db } from "../storage/db.js";
import type { IdentitySource } from "./identity.js";
import type { OidcOptions } from "./oidc.js";
import type { SessionStore } from "./sessions.js";

/** Who the host says is signed in. */
export interface HostUser {
  /** The host's stable id for the user: the link to the Gatehouse account (an email may change). */
  id: string;
  email: string;
  name?: string;
}

export interface HostIdentityOptions {
  /** The user the host app has signed in on this request (read its own session from the request), or null. */
  currentUser(request: Request): Promise<HostUser | null> | HostUser | null;
  /** The host's sign-in page, sending the browser back to `returnTo` (a same-origin path) afterwards. */
  signInUrl(returnTo: string): string;
  /** Where "Sign out" on /user and the consent page goes: the host's sign-out (default `/`). */
  signOutUrl?: string;
}

export type IdentityOption = { kind: "local" } | ({ kind: "host" } & HostIdentityOptions) | ({ kind: "oidc" } & OidcOptions);

/** Gatehouse's own password accounts and sign-in page (the default). */
export function local(): IdentityOption {
  return { kind: "local" };
}

/** The embedding app's sign-in: `createGatehouse({ identity: host({ currentUser, signInUrl }) })`. */
export function host(options: HostIdentityOptions): IdentityOption {
  return { kind: "host", ...options };
}

export const HOST_SOURCE = "host";
const MAX_SUBJECT_LENGTH = 255;
/** Browsers (and devices) one host user is expected to use at once; older rows go first. */
export const MAX_SESSIONS_PER_USER = 20;

function checkedHostUser(user: HostUser): HostUser {
  if (typeof user.id !== "string" || user.id.length === 0 || user.id.length > MAX_SUBJECT_LENGTH) {
    throw new TypeError(`identity.currentUser returned an id that is not a string of 1 to ${MAX_SUBJECT_LENGTH} characters`);
  }
  if (typeof user.email !== "string") throw new TypeError("identity.currentUser returned a user without an email");
  return user;
}

export function hostIdentity(options: HostIdentityOptions, deps: { db: Db; sessions: SessionStore }): IdentitySource {
  return {
    kind: "host",
    async session(c: Context) {
      const found = await options.currentUser(c.req.raw);
      if (!found) return null;
      const hostUser = checkedHostUser(found);
      const user = await linkExternalUser(deps.db, HOST_SOURCE, hostUser.id, hostUser.email);
      // Disabled here (gatehouse user disable, /admin): signed in at the host, but not to Gatehouse.
      if (user.disabled) return null;
      const session = await deps.sessions.load(c);
      if (session && session.userId === user.id) return session;
      const started = await deps.sessions.start(c, user.id);
      await deps.sessions.trim(user.id, started.idHash, MAX_SESSIONS_PER_USER);
      return started;
    },
    signInUrl: (returnTo) => options.signInUrl(returnTo),
    async signOut(c) {
      // Our session alone would come back on the next request: the host's sign-in is what ends.
      await deps.sessions.end(c);
      return options.signOutUrl ?? "/";
    },
  };
}
