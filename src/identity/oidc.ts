/**
 * The `oidc` identity source: the console's sign-in is an OpenID Connect
 * provider's (authorization code + PKCE S256 + state + nonce, discovery and
 * ID token validation by `openid-client`).
 *
 * One sign-in attempt: `begin` makes state, nonce and a PKCE verifier and
 * keeps them server-side in the KV store (`oidc:state:<sha256(state)>`, ten
 * minutes) together with the hash of a per-browser binding token (an HttpOnly
 * cookie the console routes set). `finish` takes that entry exactly once
 * (`getDel`), so a missing, unknown, expired, replayed or other-browser state
 * is refused before anything is sent to the provider.
 *
 * Accounts are linked by (issuer, subject) — `users.identity_source` =
 * `oidc:<issuer>`, `users.subject` = `sub` — never by email alone. An
 * existing account with the same email that is not linked to this
 * (issuer, subject) is never taken over, even when the provider says the
 * email is verified: `email_verified` is only the provider's word, and a
 * provider that lets anyone claim an address (or a multi-tenant one) would
 * otherwise hand out other people's accounts. Such a sign-in is refused with
 * a page; an administrator removes or renames the local account to let it in.
 */
import * as client from "openid-client";
import { ConfigError, normalizeIssuer, type OidcConfig } from "../config.js";
import { linkExternalUser } from "../accounts/users.js";
import { sha256Hex } from "../crypto.js";
import { ApiError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { Db } from "../storage/db.js";
import type { KvStore } from "../storage/kv/kv.js";
import type { IdentitySource } from "./identity.js";
import type { SessionStore } from "./sessions.js";

/** What an embedder passes to `oidc({...})`; the environment's GATEHOUSE_OIDC_* give the same. */
export type OidcOptions = Pick<OidcConfig, "issuer" | "clientId"> & Partial<Omit<OidcConfig, "issuer" | "clientId">>;

/** Sign in with an OpenID Connect provider: `createGatehouse({ identity: oidc({ issuer, clientId }) })`. */
export function oidc(options: OidcOptions): { kind: "oidc" } & OidcOptions {
  return { kind: "oidc", ...options };
}

export const OIDC_CALLBACK_PATH = "/login/oidc/callback";
export const OIDC_SIGNED_OUT_PATH = "/login/oidc/signed-out";
export const OIDC_STATE_TTL_MS = 10 * 60 * 1000;
const STATE_PREFIX = "oidc:state:";
const MAX_SUBJECT_LENGTH = 255;

/** A sign-in that ends on a page saying why, never a stack trace. */
export class OidcRefusal extends Error {
  constructor(
    readonly status: 400 | 403 | 409 | 502,
    readonly title: string,
    message: string,
  ) {
    super(message);
    this.name = "OidcRefusal";
  }
}

interface PendingSignIn {
  binding: string;
  verifier: string;
  nonce: string;
  returnTo: string;
}

export interface OidcSignInDeps {
  db: Db;
  kv: KvStore;
  publicUrl: string;
  /** The console's path (config.consolePath): the callback is under it. */
  consolePath?: string;
  logger: Logger;
}

export class OidcSignIn {
  readonly source: string;
  readonly redirectUri: string;
  private readonly settings: OidcConfig;
  private discovered: Promise<client.Configuration> | null = null;

  constructor(
    options: OidcOptions,
    private readonly deps: OidcSignInDeps,
  ) {
    if (!options.clientId) throw new ConfigError("oidc.clientId", "is required");
    this.settings = {
      issuer: normalizeIssuer(options.issuer, "oidc.issuer"),
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      allowedDomains: (options.allowedDomains ?? []).map((domain) => domain.toLowerCase()),
      groupsClaim: options.groupsClaim ?? "groups",
      allowedGroups: options.allowedGroups ?? [],
    };
    this.source = `oidc:${this.settings.issuer}`;
    this.redirectUri = `${deps.publicUrl}${deps.consolePath ?? ""}${OIDC_CALLBACK_PATH}`;
  }

  /** Discovery once, on first use; a failure is retried on the next sign-in rather than kept. */
  private configuration(): Promise<client.Configuration> {
    const { issuer, clientId, clientSecret } = this.settings;
    this.discovered ??= client
      .discovery(new URL(issuer), clientId, clientSecret, clientSecret ? client.ClientSecretBasic(clientSecret) : client.None(), {
        // normalizeIssuer allows http only on loopback (development); openid-client refuses it unless told.
        ...(issuer.startsWith("http:") ? { execute: [client.allowInsecureRequests] } : {}),
      })
      .catch((error: unknown) => {
        this.discovered = null;
        this.deps.logger.warn("OpenID Connect discovery failed", { issuer, error: (error as Error).message });
        throw new OidcRefusal(502, "Sign-in unavailable", "The sign-in provider could not be reached. Try again in a moment.");
      });
    return this.discovered;
  }

  /** The provider's authorization URL for a new attempt bound to `binding` (the browser's cookie value). */
  async begin(binding: string, returnTo: string): Promise<URL> {
    const config = await this.configuration();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const verifier = client.randomPKCECodeVerifier();
    const pending: PendingSignIn = { binding: sha256Hex(binding), verifier, nonce, returnTo };
    await this.deps.kv.set(STATE_PREFIX + sha256Hex(state), JSON.stringify(pending), { ttlMs: OIDC_STATE_TTL_MS });
    return client.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri,
      scope: "openid email profile",
      state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
    });
  }

  /** Checks the provider's answer and returns the linked account; throws `OidcRefusal` for every refusal. */
  async finish(callback: URL, binding: string | undefined): Promise<{ userId: string; returnTo: string }> {
    const state = callback.searchParams.get("state");
    const pending = state && state.length <= 200 ? await this.takePending(state) : null;
    if (!pending || !binding || sha256Hex(binding) !== pending.binding) {
      throw new OidcRefusal(400, "Sign-in expired", "This sign-in link is not valid any more (expired, already used or started in another browser). Start again.");
    }
    const config = await this.configuration();
    let claims: Record<string, unknown> | undefined;
    try {
      const tokens = await client.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: pending.verifier,
        expectedState: state!,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      const idToken = tokens.claims();
      claims = idToken;
      // Many providers put scope claims (email, groups) only in UserInfo; its `sub` must be the ID token's (checked).
      if (idToken && typeof idToken.email !== "string" && tokens.access_token) {
        claims = { ...(await client.fetchUserInfo(config, tokens.access_token, idToken.sub)), ...idToken };
      }
    } catch (error) {
      if (error instanceof client.AuthorizationResponseError) {
        throw new OidcRefusal(403, "Sign-in cancelled", "The sign-in provider did not sign you in.");
      }
      this.deps.logger.warn("OpenID Connect sign-in failed", { issuer: this.settings.issuer, error: (error as Error).message });
      throw new OidcRefusal(400, "Sign-in failed", "The sign-in provider's answer could not be verified. Start again.");
    }
    if (!claims) throw new OidcRefusal(400, "Sign-in failed", "The sign-in provider sent no ID token.");
    const userId = await this.link(claims);
    return { userId, returnTo: pending.returnTo };
  }

  private async takePending(state: string): Promise<PendingSignIn | null> {
    const raw = await this.deps.kv.getDel(STATE_PREFIX + sha256Hex(state));
    return raw ? (JSON.parse(raw) as PendingSignIn) : null;
  }

  private async link(claims: Record<string, unknown>): Promise<string> {
    const { sub, email } = claims;
    if (typeof sub !== "string" || sub.length === 0 || sub.length > MAX_SUBJECT_LENGTH) {
      throw new OidcRefusal(400, "Sign-in failed", "The sign-in provider sent an unusable subject.");
    }
    if (typeof email !== "string" || claims.email_verified === false) {
      throw new OidcRefusal(403, "Sign-in refused", "The sign-in provider did not give a verified email address for this account.");
    }
    const domain = email.slice(email.lastIndexOf("@") + 1).toLowerCase();
    if (this.settings.allowedDomains.length > 0 && !this.settings.allowedDomains.includes(domain)) {
      throw new OidcRefusal(403, "Sign-in refused", `Accounts with an email address at ${domain} may not sign in here.`);
    }
    if (this.settings.allowedGroups.length > 0) {
      const groups = claims[this.settings.groupsClaim];
      const member = Array.isArray(groups) && groups.some((group) => typeof group === "string" && this.settings.allowedGroups.includes(group));
      if (!member) throw new OidcRefusal(403, "Sign-in refused", "Your account is not in a group allowed to sign in here.");
    }
    try {
      return (await linkExternalUser(this.deps.db, this.source, sub, email)).id;
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        throw new OidcRefusal(
          409,
          "Account not linked",
          `An account for ${email} already exists here and is not linked to this sign-in provider, so it is not signed in. Ask an administrator.`,
        );
      }
      if (error instanceof ApiError && error.status === 400) {
        throw new OidcRefusal(403, "Sign-in refused", "The sign-in provider gave an email address that is not valid.");
      }
      throw error;
    }
  }
}

/** Console sessions as in local mode; /login starts the provider's sign-in (console/oidc-routes.ts). */
export function oidcIdentity(sessions: SessionStore, consolePath = ""): IdentitySource {
  return {
    kind: "oidc",
    session: (c) => sessions.load(c),
    signInUrl: (returnTo) => `${consolePath}/login?return_to=${encodeURIComponent(returnTo)}`,
    async signOut(c) {
      // Not /login: that would go straight back to the provider, which may still have the person signed in.
      await sessions.end(c);
      return `${consolePath}${OIDC_SIGNED_OUT_PATH}`;
    },
  };
}
