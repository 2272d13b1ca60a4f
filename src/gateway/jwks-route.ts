/**
 * `GET /.well-known/jwks.json`: the public keys upstream identity tokens are
 * signed with, for upstreams to verify them (served when an upstream has
 * `identityToken`). Cacheable: the keys change only when the database does.
 */
import { Hono } from "hono";
import type { SigningKeys } from "./signing-keys.js";

export const JWKS_PATH = "/.well-known/jwks.json";

export function jwksRoutes(keys: SigningKeys): Hono {
  const app = new Hono();
  const body = JSON.stringify(keys.jwks());
  app.get(JWKS_PATH, (c) =>
    c.body(body, 200, { "content-type": "application/jwk-set+json", "cache-control": "public, max-age=300" }),
  );
  return app;
}
