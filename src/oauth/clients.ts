/**
 * OAuth clients: registered ones (RFC 7591, rows with source `dcr`),
 * pre-registered by an operator (`gatehouse client add`, source `static`,
 * static-clients.ts) and Client ID Metadata Documents (an https `client_id`,
 * fetched, validated and cached as a row with source `cimd`, so connections
 * can reference it).
 */
import { and, eq, isNull, lt, ne, or, sql } from "drizzle-orm";
import type { Clock } from "../clock.js";
import { silentLogger, type Logger } from "../logger.js";
import { isStorableText } from "../web/text.js";
import type { Db } from "../storage/db.js";
import { unlimited, type RateLimit } from "../storage/rate-limit.js";
import { oauthClients } from "../storage/schema.js";
import {
  CimdError, checkClientIdUrl, fetchClientMetadataDocument, isClientIdUrl, type CimdFetchOptions, type ClientMetadataDocument,
} from "./cimd.js";
import { ClientLookupThrottled, FetchGate } from "./cimd-gate.js";
import { OAuthError } from "./errors.js";

export type TokenEndpointAuthMethod = "none" | "client_secret_basic" | "client_secret_post";

export interface OAuthClient {
  clientId: string;
  source: "dcr" | "static" | "cimd";
  clientName: string | null;
  redirectUris: string[];
  grantTypes: string[];
  responseTypes: string[];
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  clientSecretHash: string | null;
  clientSecretExpiresAt: Date | null;
  metadata: Record<string, unknown>;
  registeredFromIp: string | null;
  createdAt: Date;
}

type ClientRow = typeof oauthClients.$inferSelect;

export function toClient(row: ClientRow): OAuthClient {
  return {
    clientId: row.clientId,
    source: row.source as OAuthClient["source"],
    clientName: row.clientName,
    redirectUris: row.redirectUris,
    // PRODUCT §6: refresh tokens are issued to every connection, so a client that may redeem codes may refresh
    // (rows stored before registration said so, and metadata documents that list only authorization_code).
    grantTypes: row.grantTypes.includes("authorization_code") ? [...new Set([...row.grantTypes, "refresh_token"])] : row.grantTypes,
    responseTypes: row.responseTypes,
    tokenEndpointAuthMethod: row.tokenEndpointAuthMethod as TokenEndpointAuthMethod,
    clientSecretHash: row.clientSecretHash,
    clientSecretExpiresAt: row.clientSecretExpiresAt,
    metadata: row.metadata,
    registeredFromIp: row.registeredFromIp,
    createdAt: row.createdAt,
  };
}

export type FetchDocument = (clientId: string, options: CimdFetchOptions) => Promise<ClientMetadataDocument>;

export interface ClientStoreDeps {
  db: Db;
  clock: Clock;
  cimd: CimdFetchOptions;
  fetchDocument?: FetchDocument;
  /** New metadata-document fetches per source address (default: unlimited). */
  fetchLimit?: RateLimit;
  /** Metadata-document fetches in flight at once on this node (default 8). */
  maxConcurrentFetches?: number;
  /** Why a document was refused or a fetch throttled: logged here, never shown to the visitor. */
  logger?: Logger;
}

/** Who asks for a client: the address new metadata-document fetches are counted against. */
export interface Requester {
  ip: string;
}

/** Cache bounds for metadata documents (CIMD §4.4: honour HTTP caching within our own limits). */
const CIMD_MIN_CACHE_MS = 60_000;
const CIMD_DEFAULT_CACHE_MS = 60 * 60_000;
const CIMD_MAX_CACHE_MS = 24 * 60 * 60_000;
/** PRODUCT §6: dynamic clients with no connection for 30 days are removed. */
export const UNUSED_CLIENT_TTL_MS = 30 * 24 * 60 * 60_000;

export class ClientStore {
  private readonly fetchDocument: FetchDocument;
  private readonly gate: FetchGate;
  private readonly logger: Logger;
  constructor(private readonly deps: ClientStoreDeps) {
    this.fetchDocument = deps.fetchDocument ?? fetchClientMetadataDocument;
    this.gate = new FetchGate({ perAddress: deps.fetchLimit ?? unlimited, maxConcurrent: deps.maxConcurrentFetches });
    this.logger = deps.logger ?? silentLogger;
  }

  /** A client as stored, without fetching: for the token, revocation and introspection endpoints. */
  async findStored(clientId: string): Promise<OAuthClient | null> {
    if (clientId.length > 2000 || !isStorableText(clientId)) return null;
    const [row] = await this.deps.db.select().from(oauthClients).where(eq(oauthClients.clientId, clientId));
    return row ? toClient(row) : null;
  }

  /**
   * A client for an authorization request: registered, or a metadata
   * document fetched now unless a fresh copy is cached. Fetch failures are
   * never cached (CIMD §4.4). A new fetch counts against the requester's
   * address and waits for a free slot (cimd-gate.ts).
   */
  async resolve(clientId: string, requester: Requester): Promise<OAuthClient | null> {
    if (!isStorableText(clientId)) return null;
    if (!isClientIdUrl(clientId)) {
      const client = await this.findStored(clientId);
      return client?.source === "dcr" || client?.source === "static" ? client : null;
    }
    const now = this.deps.clock.now();
    const [cached] = await this.deps.db.select().from(oauthClients).where(eq(oauthClients.clientId, clientId));
    if (cached && cached.source === "cimd" && cached.refreshAfter && cached.refreshAfter.getTime() > now) return toClient(cached);
    let doc: ClientMetadataDocument;
    try {
      // A malformed URL is refused before it costs the requester a fetch.
      checkClientIdUrl(clientId);
      doc = await this.gate.run(requester.ip, () => this.fetchDocument(clientId, this.deps.cimd));
    } catch (error) {
      if (error instanceof CimdError) {
        this.logger.warn("metadata document refused", { clientId, ip: requester.ip, kind: error.kind, reason: error.message });
        throw new ClientDocumentError(error);
      }
      if (error instanceof ClientLookupThrottled) {
        this.logger.warn("metadata document fetch throttled", { clientId, ip: requester.ip, reason: error.reason });
      }
      throw error;
    }
    return this.cacheDocument(doc, now);
  }

  private async cacheDocument(doc: ClientMetadataDocument, now: number): Promise<OAuthClient> {
    const maxAge = doc.maxAgeSeconds === undefined ? CIMD_DEFAULT_CACHE_MS : doc.maxAgeSeconds * 1000;
    const refreshAfter = new Date(now + Math.min(Math.max(maxAge, CIMD_MIN_CACHE_MS), CIMD_MAX_CACHE_MS));
    const metadata: Record<string, unknown> = {
      client_uri: doc.clientUri,
      logo_uri: doc.logoUri,
      tos_uri: doc.tosUri,
      policy_uri: doc.policyUri,
      scope: doc.scope,
      application_type: doc.applicationType,
    };
    for (const key of Object.keys(metadata)) if (metadata[key] === undefined) delete metadata[key];
    const values = {
      clientId: doc.clientId,
      source: "cimd",
      tokenEndpointAuthMethod: "none",
      redirectUris: doc.redirectUris,
      grantTypes: doc.grantTypes,
      responseTypes: doc.responseTypes,
      clientName: doc.clientName,
      metadata,
      refreshAfter,
    } as const;
    const [row] = await this.deps.db
      .insert(oauthClients)
      .values(values)
      .onConflictDoUpdate({ target: oauthClients.clientId, set: { ...values, clientId: undefined } })
      .returning();
    return toClient(row!);
  }

  async touch(clientId: string): Promise<void> {
    await this.deps.db
      .update(oauthClients)
      .set({ lastUsedAt: new Date(this.deps.clock.now()) })
      .where(eq(oauthClients.clientId, clientId));
  }

  /** Dynamic clients and cached documents with no connection and no use for 30 days; returns how many went. */
  async purgeUnused(): Promise<number> {
    const cutoff = new Date(this.deps.clock.now() - UNUSED_CLIENT_TTL_MS);
    const rows = await this.deps.db
      .delete(oauthClients)
      .where(
        and(
          // An operator's pre-registered client goes only when the operator removes it.
          ne(oauthClients.source, "static"),
          or(
            and(isNull(oauthClients.lastUsedAt), lt(oauthClients.createdAt, cutoff)),
            lt(oauthClients.lastUsedAt, cutoff),
          ),
          sql`NOT EXISTS (SELECT 1 FROM user_api_tokens t WHERE t.oauth_client_id = ${oauthClients.clientId})`,
        ),
      )
      .returning({ clientId: oauthClients.clientId });
    return rows.length;
  }
}

/**
 * A metadata document that could not be fetched or is invalid: shown as an
 * error page, never redirected. The page says only that: which host did not
 * resolve, which port refused or timed out, or that an address is private
 * would let anyone map the networks this server reaches (THREATS 32). The
 * reason is logged.
 */
export class ClientDocumentError extends OAuthError {
  constructor(readonly cimd: CimdError) {
    super("invalid_client", "The application's metadata document could not be used.", { status: 400 });
  }
}
