/**
 * The token pair this server issues: opaque random strings with a prefix
 * that says what they are (so a token in the wrong place is recognised at a
 * glance, and GitHub-style secret scanners can find leaked ones), stored only
 * as SHA-256 hashes. The plaintext exists once, in the token response.
 */
import { prefixedToken, sha256Hex } from "../crypto.js";
import { scopeString } from "./policy.js";

export const ACCESS_TOKEN_PREFIX = "gha_";
export const REFRESH_TOKEN_PREFIX = "ghr_";

/** RFC 6749 §5.1. */
export interface TokenResponse {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  refresh_token: string;
  scope: string;
}

export interface TokenLifetimes {
  accessTokenTtlMs: number;
  refreshTokenTtlMs: number;
}

/** A new pair as the database stores it (hashes, expiry) and as the client receives it (the response). */
export interface IssuedTokens {
  accessTokenHash: string;
  accessExpiresAt: Date;
  refreshTokenHash: string;
  refreshExpiresAt: Date;
  scopes: string[];
  response: TokenResponse;
}

export function issueTokens(now: number, lifetimes: TokenLifetimes, scopes: string[]): IssuedTokens {
  const accessToken = prefixedToken(ACCESS_TOKEN_PREFIX);
  const refreshToken = prefixedToken(REFRESH_TOKEN_PREFIX);
  return {
    accessTokenHash: sha256Hex(accessToken),
    accessExpiresAt: new Date(now + lifetimes.accessTokenTtlMs),
    refreshTokenHash: sha256Hex(refreshToken),
    refreshExpiresAt: new Date(now + lifetimes.refreshTokenTtlMs),
    scopes,
    response: {
      access_token: accessToken,
      token_type: "Bearer",
      expires_in: Math.floor(lifetimes.accessTokenTtlMs / 1000),
      refresh_token: refreshToken,
      scope: scopeString(scopes),
    },
  };
}
