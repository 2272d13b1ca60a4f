/**
 * `GET /.well-known/jwks.json`: the public keys upstream identity tokens are
 * signed with, for upstreams to verify them (served when an upstream has
 * `identityToken`). Cacheable for JWKS_MAX_AGE_SECONDS: a rotation publishes
 * a new key that long (and more) before signing with it, and the body is
 * built per request, since the set changes with the clock (signing-key-set.ts).
 */
import { Hono } from "hono";
import { JWKS_MAX_AGE_SECONDS } from "./signing-key-set.js";
import type { SigningKeys } from "./signing-keys.js";

export const JWKS_PATH = "/.well-known/jwks.json";

export function jwksRoutes(keys: SigningKeys): Hono {
  const app = new Hono();
  app.get(JWKS_PATH, (c) =>
    c.body(JSON.stringify(keys.jwks()), 200, {
      "content-type": "application/jwk-set+json",
      "cache-control": `public, max-age=${JWKS_MAX_AGE_SECONDS}`,
    }),
  );
  return app;
}
