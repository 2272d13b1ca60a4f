/**
 * RFC 7591 dynamic client registration. Open, rate-limited per IP, body
 * capped, and a client can never set privileged fields: only the metadata
 * below is read, everything else is dropped. Identical public re-registrations
 * return the existing client, so clients that register on every run do not
 * pile up.
 */
import { randomUUID } from "node:crypto";
import { and, eq } from "drizzle-orm";
import { Hono } from "hono";
import { z } from "zod";
import type { Clock } from "../clock.js";
import { prefixedToken, sha256Hex } from "../crypto.js";
import { BodyTooLargeError, readBodyCapped } from "../web/body.js";
import { clientIp } from "../web/client-ip.js";
import { isStorableDeep } from "../web/text.js";
import { displayName, httpsUrl } from "./client-fields.js";
import type { RateLimit } from "../storage/rate-limit.js";
import type { Db } from "../storage/db.js";
import { oauthClients } from "../storage/schema.js";
import { toClient, type OAuthClient } from "./clients.js";
import { NO_STORE_HEADERS, OAuthError } from "./errors.js";
import { parseScope } from "./policy.js";
import { checkRedirectUri } from "./redirect-uri.js";

export interface RegisterDeps {
  db: Db;
  clock: Clock;
  trustProxy: boolean;
  registerLimit: RateLimit;
}

export const MAX_REGISTRATION_BYTES = 16 * 1024;

const invalid = (description: string) => new OAuthError("invalid_client_metadata", description);
const metadataSchema = z.object({
  redirect_uris: z.array(z.unknown()).min(1).max(20),
  token_endpoint_auth_method: z.enum(["none", "client_secret_basic", "client_secret_post"]).default("client_secret_basic"),
  grant_types: z.array(z.enum(["authorization_code", "refresh_token"])).min(1).default(["authorization_code"]),
  response_types: z.array(z.literal("code")).length(1).default(["code"]),
  client_name: displayName.optional(),
  client_uri: httpsUrl.optional(),
  logo_uri: httpsUrl.optional(),
  tos_uri: httpsUrl.optional(),
  policy_uri: httpsUrl.optional(),
  scope: z.string().max(2000).optional(),
  contacts: z.array(z.string().max(320)).max(10).optional(),
  application_type: z.enum(["web", "native"]).optional(),
  software_id: z.string().max(200).optional(),
  software_version: z.string().max(200).optional(),
});

type Metadata = z.infer<typeof metadataSchema>;

function parseMetadata(body: unknown): Metadata & { redirect_uris: string[] } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw invalid("The body must be a JSON object.");
  const uris = (body as { redirect_uris?: unknown }).redirect_uris;
  if (!Array.isArray(uris) || uris.length === 0) {
    throw new OAuthError("invalid_redirect_uri", "redirect_uris must be a non-empty array.");
  }
  for (const uri of uris) {
    const check = checkRedirectUri(uri);
    if (!check.ok) throw new OAuthError("invalid_redirect_uri", check.reason);
  }
  if (!isStorableDeep(body)) throw invalid("The metadata contains characters that are not allowed (NUL or invalid Unicode).");
  const parsed = metadataSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(`${issue?.path.join(".") || "metadata"} is invalid${issue?.message ? `: ${issue.message}` : ""}.`);
  }
  if (parsed.data.scope !== undefined) {
    try {
      parseScope(parsed.data.scope);
    } catch {
      throw invalid("scope is malformed.");
    }
  }
  // RFC 7591 §2.1: response type `code` needs the authorization_code grant.
  if (!parsed.data.grant_types.includes("authorization_code")) throw invalid("grant_types must include authorization_code.");
  return { ...parsed.data, redirect_uris: uris as string[] };
}

/** Refresh tokens are issued to every connection (PRODUCT §6), so every client is registered for both grants. */
function effective(metadata: Metadata & { redirect_uris: string[] }) {
  return { ...metadata, grant_types: ["authorization_code", "refresh_token"] };
}

function canonicalHash(metadata: Record<string, unknown>): string {
  const sorted = Object.fromEntries(Object.entries(metadata).sort(([a], [b]) => (a < b ? -1 : 1)));
  return sha256Hex(JSON.stringify(sorted));
}

/** RFC 7591 §3.2.1: the response echoes every registered field, with the values the server substituted. */
export function registrationResponse(client: OAuthClient, secret?: string): Record<string, unknown> {
  return {
    client_id: client.clientId,
    client_id_issued_at: Math.floor(client.createdAt.getTime() / 1000),
    ...(secret ? { client_secret: secret, client_secret_expires_at: 0 } : {}),
    redirect_uris: client.redirectUris,
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    grant_types: client.grantTypes,
    response_types: client.responseTypes,
    ...(client.clientName ? { client_name: client.clientName } : {}),
    ...client.metadata,
  };
}

export function registerRoutes(deps: RegisterDeps) {
  const app = new Hono();
  app.post(
    "/",
    async function register(c) {
      const retryAfter = await deps.registerLimit.consume(clientIp(c, deps.trustProxy));
      if (retryAfter !== null) {
        throw new OAuthError("slow_down", "Too many registrations from this address; try again later.", {
          headers: { "Retry-After": String(retryAfter) },
        });
      }
      if (!/^application\/json\b/i.test(c.req.header("content-type") ?? "")) {
        throw new OAuthError("invalid_request", "Registration requests must be application/json (RFC 7591 §3).");
      }
      const raw = await readBodyCapped(c.req.raw, MAX_REGISTRATION_BYTES).catch((error: unknown) => {
        if (error instanceof BodyTooLargeError) throw invalid(`The registration body must be at most ${MAX_REGISTRATION_BYTES} bytes.`);
        throw error;
      });
      let body: unknown;
      try {
        body = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw));
      } catch {
        throw new OAuthError("invalid_request", "The body is not valid UTF-8 JSON.");
      }
      const metadata = effective(parseMetadata(body));
      const { redirect_uris, token_endpoint_auth_method, grant_types, response_types, client_name, ...rest } = metadata;
      const isPublic = token_endpoint_auth_method === "none";
      const metadataHash = isPublic ? canonicalHash(metadata) : null;
      const secret = isPublic ? undefined : prefixedToken("ghs_");
      const [row] = await deps.db
        .insert(oauthClients)
        .values({
          clientId: `gh_${randomUUID().replaceAll("-", "")}`,
          source: "dcr",
          clientSecretHash: secret ? sha256Hex(secret) : null,
          tokenEndpointAuthMethod: token_endpoint_auth_method,
          redirectUris: redirect_uris,
          grantTypes: grant_types,
          responseTypes: response_types,
          clientName: client_name ?? null,
          metadata: rest,
          metadataHash,
          registeredFromIp: clientIp(c, deps.trustProxy),
          createdAt: new Date(deps.clock.now()),
        })
        .onConflictDoNothing()
        .returning();
      if (row) return c.json(registrationResponse(toClient(row), secret), 201, NO_STORE_HEADERS);
      // An identical public client exists (unique metadata hash): hand it back instead of piling up another,
      // marked used so the 30-day purge cannot remove it just after handing it out.
      const [existing] = await deps.db
        .update(oauthClients)
        .set({ lastUsedAt: new Date(deps.clock.now()) })
        .where(and(eq(oauthClients.metadataHash, metadataHash!), eq(oauthClients.source, "dcr")))
        .returning();
      if (!existing) throw new OAuthError("server_error", "Registration failed; try again.");
      return c.json(registrationResponse(toClient(existing)), 201, NO_STORE_HEADERS);
    },
  );
  return app;
}
