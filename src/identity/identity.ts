/**
 * Who is signed in: the one question the console, the consent page and the
 * cookie-authenticated `/api` ask, answered by an identity source.
 *
 * - `local` (the default): Gatehouse's own password accounts; /login starts a
 *   console session, /logout ends it.
 * - `host`: the embedding app's sign-in (identity/host.ts). Gatehouse shows no
 *   sign-in page of its own and asks the host on every console request.
 * - `oidc`: an OpenID Connect provider (identity/oidc.ts); /login goes to the
 *   provider, its callback starts a console session as the local sign-in does.
 *
 * Either way the answer is a `ConsoleSession`: a server-side row per browser
 * that carries the CSRF secret every console form is bound to and the browser
 * secret one-time messages are sealed under — so the console's forms, CSRF
 * checks and flashes work the same whichever source said who is signed in.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { ConsoleSession, SessionStore, SessionVariables } from "./sessions.js";

export interface IdentitySource {
  readonly kind: "local" | "host" | "oidc";
  /** The signed-in browser's console session, or null when nobody is signed in. */
  session(c: Context): Promise<ConsoleSession | null>;
  /** Where to send a browser that must sign in first; `returnTo` is a same-origin path. */
  signInUrl(returnTo: string): string;
  /** Ends Gatehouse's part of the sign-in and says where the browser goes next. */
  signOut(c: Context, returnTo: string): Promise<string>;
}

/** `consolePath`: where the console's /login is (config.consolePath, "" for the root). */
export function localIdentity(sessions: SessionStore, consolePath = ""): IdentitySource {
  const signInUrl = (returnTo: string) => `${consolePath}/login?return_to=${encodeURIComponent(returnTo)}`;
  return {
    kind: "local",
    session: (c) => sessions.load(c),
    signInUrl,
    async signOut(c, returnTo) {
      await sessions.end(c);
      return signInUrl(returnTo);
    },
  };
}

/** Sets `c.var.session` for every console and authorize route. */
export function identityMiddleware(identity: IdentitySource): MiddlewareHandler<{ Variables: SessionVariables }> {
  return async function loadSession(c, next) {
    c.set("session", await identity.session(c));
    await next();
  };
}
