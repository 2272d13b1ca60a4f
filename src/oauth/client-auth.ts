/**
 * Client authentication at the token, revocation and introspection
 * endpoints (OAuth 2.1 §2.4). A client uses exactly the method it registered:
 * public clients send only `client_id`, confidential ones their secret by
 * HTTP Basic or in the body — never both, never the other one.
 */
import type { Context } from "hono";
import type { Clock } from "../clock.js";
import { constantTimeEqual, sha256Hex } from "../crypto.js";
import type { RateLimit } from "../storage/rate-limit.js";
import type { ClientStore, OAuthClient } from "./clients.js";
import { invalidClient, OAuthError } from "./errors.js";

export interface ClientAuthDeps {
  clients: ClientStore;
  clock: Clock;
  /** Wrong client secrets, counted per client_id. */
  secretFailures: RateLimit;
}

export interface AuthenticatedClient {
  client: OAuthClient;
  usedBasic: boolean;
}

interface BasicCredentials {
  clientId: string;
  secret: string;
}

/** RFC 6749 §2.3.1: both halves are form-urlencoded before base64. */
function parseBasic(header: string): BasicCredentials | null {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!match) return null;
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return null;
  try {
    const decode = (s: string) => decodeURIComponent(s.replace(/\+/g, " "));
    return { clientId: decode(decoded.slice(0, colon)), secret: decode(decoded.slice(colon + 1)) };
  } catch {
    return null;
  }
}

export async function authenticateClient(c: Context, form: Map<string, string>, deps: ClientAuthDeps): Promise<AuthenticatedClient> {
  const header = c.req.header("authorization");
  const usedBasic = header !== undefined && /^Basic\b/i.test(header);
  const basic = usedBasic ? parseBasic(header!) : null;
  if (usedBasic && !basic) throw invalidClient("The Basic authorization header is malformed.", true);
  const bodyId = form.get("client_id");
  const bodySecret = form.get("client_secret");
  if (basic && bodySecret !== undefined) {
    throw new OAuthError("invalid_request", "Use one client authentication method, not several.");
  }
  if (basic && bodyId !== undefined && bodyId !== basic.clientId) {
    throw new OAuthError("invalid_request", "client_id in the body differs from the Basic credentials.");
  }
  const clientId = basic?.clientId ?? bodyId;
  if (!clientId) throw invalidClient("Client authentication is required (client_id).", usedBasic);
  const client = await deps.clients.findStored(clientId);
  if (!client) throw invalidClient("Unknown client.", usedBasic);

  const presented = basic?.secret ?? bodySecret;
  switch (client.tokenEndpointAuthMethod) {
    case "none":
      // A public client has no secret; one that sends a secret is confused or an impostor (OAuth 2.1 §2.4, DCR-8).
      if (presented !== undefined) throw invalidClient("This client is public and must not send a client secret.", usedBasic);
      return { client, usedBasic };
    case "client_secret_basic":
      if (!basic) throw invalidClient("This client must authenticate with HTTP Basic.", usedBasic);
      break;
    case "client_secret_post":
      if (basic || bodySecret === undefined) throw invalidClient("This client must send client_secret in the body.", usedBasic);
      break;
  }
  await verifySecret(client, presented, usedBasic, deps);
  return { client, usedBasic };
}

/**
 * Wrong secrets count per client and, past the limit, are answered 429. The
 * right secret always passes: a client id is public, so refusing it too would
 * let anyone lock a confidential client out, while a 256-bit secret leaves a
 * guesser nothing to gain from seeing which guess hit.
 */
async function verifySecret(client: OAuthClient, presented: string | undefined, usedBasic: boolean, deps: ClientAuthDeps): Promise<void> {
  const expired = client.clientSecretExpiresAt !== null && client.clientSecretExpiresAt.getTime() <= deps.clock.now();
  if (!client.clientSecretHash || expired || !constantTimeEqual(sha256Hex(presented ?? ""), client.clientSecretHash)) {
    const retryAfter = await deps.secretFailures.consume(client.clientId);
    if (retryAfter !== null) throw tooManyFailures(retryAfter);
    throw invalidClient("Client authentication failed.", usedBasic);
  }
}

function tooManyFailures(retryAfter: number): OAuthError {
  return new OAuthError("slow_down", "Too many failed authentications for this client; try again later.", {
    headers: { "Retry-After": String(retryAfter) },
  });
}
