/**
 * Clients an operator registers by hand (`gatehouse client add`), for clients
 * configured with a fixed client_id: MCP Inspector's `--client-id`,
 * mcp-remote's static client information, Mastra. They are rows with source
 * `static`: checked like dynamic registrations (same redirect-URI and name
 * rules), but never purged for being unused and never removed with their
 * last connection — only by `gatehouse client remove`.
 */
import { randomUUID } from "node:crypto";
import { asc, eq } from "drizzle-orm";
import type { Clock } from "../clock.js";
import { prefixedToken, sha256Hex } from "../crypto.js";
import { ApiError } from "../errors.js";
import type { Db } from "../storage/db.js";
import { mcpSessions, oauthClients, userApiTokens } from "../storage/schema.js";
import { isStorableText } from "../web/text.js";
import { displayName } from "./client-fields.js";
import { toClient, type OAuthClient } from "./clients.js";
import { checkRedirectUri } from "./redirect-uri.js";

/** A client as the CLI and the admin socket show it (JSON-safe: dates as ISO strings, never the secret hash). */
export interface ClientInfo {
  clientId: string;
  source: OAuthClient["source"];
  name: string | null;
  redirectUris: string[];
  tokenEndpointAuthMethod: OAuthClient["tokenEndpointAuthMethod"];
  createdAt: string;
  lastUsedAt: string | null;
}

export interface NewStaticClient {
  name: string;
  redirectUris: string[];
  confidential: boolean;
}

export interface AddedClient {
  client: ClientInfo;
  /** Confidential clients only: shown once, stored only as a hash. */
  clientSecret?: string;
}

/** A connection that went with a removed client: the caller tells every node (token caches, sessions). */
export interface RemovedConnection {
  connectionId: string;
  userId: string;
  clientId: string;
}

export function clientInfo(row: typeof oauthClients.$inferSelect): ClientInfo {
  const client = toClient(row);
  return {
    clientId: client.clientId,
    source: client.source,
    name: client.clientName,
    redirectUris: client.redirectUris,
    tokenEndpointAuthMethod: client.tokenEndpointAuthMethod,
    createdAt: client.createdAt.toISOString(),
    lastUsedAt: row.lastUsedAt ? row.lastUsedAt.toISOString() : null,
  };
}

function validate(input: NewStaticClient): void {
  const name = displayName.safeParse(input.name);
  if (!name.success) throw new ApiError(400, "invalid_client_metadata", "the client name must be printable text of at most 200 characters");
  if (input.redirectUris.length === 0 || input.redirectUris.length > 20) {
    throw new ApiError(400, "invalid_redirect_uri", "give between 1 and 20 redirect URIs");
  }
  // The same rules as dynamic registration (PRODUCT §6 "Clients and redirects"; THREATS 1-7).
  for (const uri of input.redirectUris) {
    const check = checkRedirectUri(uri);
    if (!check.ok) throw new ApiError(400, "invalid_redirect_uri", `${check.reason}: ${JSON.stringify(uri.slice(0, 200))}`);
  }
}

export async function addStaticClient(db: Db, clock: Clock, input: NewStaticClient): Promise<AddedClient> {
  validate(input);
  const secret = input.confidential ? prefixedToken("ghs_") : undefined;
  const [row] = await db
    .insert(oauthClients)
    .values({
      // DCR-10: never an https URL, so it cannot collide with a metadata-document client_id.
      clientId: `gh_${randomUUID().replaceAll("-", "")}`,
      source: "static",
      clientSecretHash: secret ? sha256Hex(secret) : null,
      // RFC 7591 §2: client_secret_basic is the default for a client with a secret.
      tokenEndpointAuthMethod: input.confidential ? "client_secret_basic" : "none",
      redirectUris: [...new Set(input.redirectUris)],
      // Refresh tokens are issued to every connection (PRODUCT §6).
      grantTypes: ["authorization_code", "refresh_token"],
      responseTypes: ["code"],
      clientName: input.name.trim(),
      metadata: {},
      createdAt: new Date(clock.now()),
    })
    .returning();
  return { client: clientInfo(row!), ...(secret ? { clientSecret: secret } : {}) };
}

/** Every client: pre-registered, dynamically registered and cached metadata documents. */
export async function listClients(db: Db): Promise<ClientInfo[]> {
  const rows = await db.select().from(oauthClients).orderBy(asc(oauthClients.createdAt), asc(oauthClients.clientId));
  return rows.map(clientInfo);
}

/**
 * Removes a client with its connections, their tokens (foreign keys cascade)
 * and its MCP sessions, in one transaction.
 */
export async function removeClient(db: Db, clientId: string): Promise<{ client: ClientInfo; connections: RemovedConnection[] }> {
  if (!isStorableText(clientId) || clientId.length > 2000) throw new ApiError(404, "client_not_found", "No such client.");
  const removed = await db.transaction(async (tx) => {
    const connections = await tx
      .delete(userApiTokens)
      .where(eq(userApiTokens.oauthClientId, clientId))
      .returning({ connectionId: userApiTokens.id, userId: userApiTokens.userId });
    await tx.delete(mcpSessions).where(eq(mcpSessions.clientId, clientId));
    const [row] = await tx.delete(oauthClients).where(eq(oauthClients.clientId, clientId)).returning();
    if (!row) throw new ApiError(404, "client_not_found", `No client ${clientId}.`);
    return { client: clientInfo(row), connections: connections.map((c) => ({ ...c, clientId })) };
  });
  return removed;
}
