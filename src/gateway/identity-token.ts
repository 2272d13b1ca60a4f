/**
 * The identity token an HTTP upstream receives on each request (README
 * "Gateway"): a JWT signed by Gatehouse naming the caller, so the upstream
 * can check who calls against the JWKS instead of trusting a plain header.
 * Requests Gatehouse makes on its own behalf (the handshake, listing tools)
 * carry a token whose `sub` is Gatehouse itself (`sub` = `iss`, as in RFC
 * 7523 self-issued assertions) and no user claims.
 */
import { SignJWT } from "jose";
import type { Clock } from "../clock.js";
import { randomToken } from "../crypto.js";
import type { HttpUpstreamConfig, IdentityTokenConfig } from "./config.js";
import type { SigningKeys } from "./signing-keys.js";

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

export function identityTokenSigner(keys: SigningKeys, issuer: string, clock: Clock): IdentityTokenSigner {
  const sign = async (options: IdentityTokenConfig, audience: string, caller: CallerIdentity | undefined) => {
    const key = keys.get(options.algorithm);
    const now = Math.floor(clock.now() / 1000);
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
    async header(upstream, caller) {
      const options = upstream.identityToken;
      if (!options) return null;
      const token = await sign(options, options.audience ?? upstream.url, caller);
      return [options.header, options.scheme ? `${options.scheme} ${token}` : token];
    },
  };
}
