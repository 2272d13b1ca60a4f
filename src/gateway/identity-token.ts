/**
 * The identity token an HTTP upstream receives on each request (README
 * "Gateway"): a JWT signed by Gatehouse naming the caller, so the upstream
 * can check who calls against the JWKS instead of trusting a plain header.
 * Requests Gatehouse makes on its own behalf (the handshake, listing tools)
 * carry a token whose `sub` is Gatehouse itself (`sub` = `iss`, as in RFC
 * 7523 self-issued assertions) and no user claims.
 *
 * Signing costs about a millisecond, more than the rest of a proxied call, so
 * a token is reused for the same (upstream, caller) while more than half its
 * lifetime remains (README "Identity tokens for HTTP upstreams" weighs the
 * `jti`). Reuse never lets a call through that would not have got through:
 * a token is only handed to a request that has just passed the bearer check
 * (a revoked grant or a disabled user is refused there, before any
 * upstream is called), and reusing it extends no token's lifetime. The
 * signing key's `kid` is part of the cache key: once a rotation switches
 * keys, no token signed by the old one is handed out again.
 */
import { SignJWT } from "jose";
import type { Clock } from "../clock.js";
import { randomToken } from "../crypto.js";
import type { HttpUpstreamConfig, IdentityTokenConfig } from "./config.js";
import type { SigningKey, SigningKeys } from "./signing-keys.js";

/** Who is calling, as handed to an upstream. */
export interface CallerIdentity {
  userId: string;
  email: string;
  scopes: readonly string[];
  clientId: string;
}

export interface IdentityTokenSigner {
  /** The header name and value to send, or null when the upstream wants no token. */
  header(upstream: HttpUpstreamConfig, caller: CallerIdentity | undefined): Promise<[string, string] | null>;
}

/** Tokens kept at most; past it the oldest is forgotten (and signed again when next needed). */
export const IDENTITY_TOKEN_CACHE_SIZE = 1000;

interface Cached {
  header: Promise<[string, string]>;
  /** Issued at (ms, whole seconds as in `iat`); reused from then until `renewAt`. */
  issuedAt: number;
  renewAt: number;
}

/** Everything a token says about its caller: a change in any of it (new scopes, say) is a new token. */
function cacheKey(kid: string, upstream: HttpUpstreamConfig, caller: CallerIdentity | undefined): string {
  return JSON.stringify(caller ? [kid, upstream.name, caller.userId, caller.clientId, caller.email, caller.scopes] : [kid, upstream.name]);
}

export function identityTokenSigner(keys: SigningKeys, issuer: string, clock: Clock): IdentityTokenSigner {
  const cache = new Map<string, Cached>();
  const sign = async (key: SigningKey, options: IdentityTokenConfig, audience: string, caller: CallerIdentity | undefined, now: number) => {
    const claims = caller ? { email: caller.email, scope: caller.scopes.join(" "), client_id: caller.clientId } : {};
    return new SignJWT(claims)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT" })
      .setIssuer(issuer)
      .setSubject(caller ? caller.userId : issuer)
      .setAudience(audience)
      .setIssuedAt(now)
      .setExpirationTime(now + options.ttlSeconds)
      .setJti(randomToken(16))
      .sign(key.privateKey);
  };
  return {
    header(upstream, caller) {
      const options = upstream.identityToken;
      if (!options) return Promise.resolve(null);
      const signingKey = keys.get(options.algorithm);
      const key = cacheKey(signingKey.kid, upstream, caller);
      const nowMs = clock.now();
      const cached = cache.get(key);
      // A clock that went back (tests, a stepped system clock) gets a token of its own time, not one from its future.
      if (cached && nowMs >= cached.issuedAt && nowMs < cached.renewAt) return cached.header;
      const now = Math.floor(nowMs / 1000);
      const header = sign(signingKey, options, options.audience ?? upstream.url, caller, now).then((token): [string, string] => [
        options.header,
        options.scheme ? `${options.scheme} ${token}` : token,
      ]);
      const entry: Cached = { header, issuedAt: now * 1000, renewAt: (now + options.ttlSeconds / 2) * 1000 };
      cache.delete(key);
      if (cache.size >= IDENTITY_TOKEN_CACHE_SIZE) cache.delete(cache.keys().next().value!);
      cache.set(key, entry);
      // Concurrent calls share one signing; a failed one is not kept.
      header.catch(() => {
        if (cache.get(key) === entry) cache.delete(key);
      });
      return header;
    },
  };
}
