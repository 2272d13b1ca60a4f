/**
 * Session-based Streamable HTTP (MCP 2025-03-26 … 2025-11-25), served from
 * any node. The session record lives in the database; each node keeps a
 * live SDK server + transport per session it is serving, rebuilt from the
 * record when a request for an unknown-here session arrives (no sticky
 * routing), and dropped when idle. Events are stored in the shared KV store,
 * so a stream resumes on any node, after a restart too.
 *
 * Why not the SDK's session handling alone: its sessions are in-process
 * only, and it has no way to restore one on another process — see legacy-live.ts.
 */
import {
  isInitializeRequest,
  isJSONRPCErrorResponse,
  isJSONRPCRequest,
  isJSONRPCResponse,
  type JSONRPCMessage,
  type ServerEvent,
} from "@modelcontextprotocol/server";
import type { EventBus } from "../bus/bus.js";
import type { Clock } from "../clock.js";
import type { McpLimits } from "../config.js";
import { randomToken } from "../crypto.js";
import type { Logger } from "../logger.js";
import type { KvStore } from "../storage/kv/kv.js";
import type { PositionAllocator } from "./event-store.js";
import { jsonRpcError } from "./json-rpc.js";
import { LiveSessionFactory, RETRY_INTERVAL_MS, subscriptionKey, type LiveSession } from "./legacy-live.js";
import { SessionQuota } from "./legacy-quota.js";
import { countedStream, isEventStream } from "./legacy-streams.js";
import {
  hasMethod,
  isStandaloneStream,
  LEGACY_VERSIONS,
  LOG_LEVELS,
  logLevelKey,
  mayBeResponse,
  STANDALONE_STREAM,
  withNegotiatedVersion,
} from "./legacy-protocol.js";
import { clientInfoError, LIMIT_EXCEEDED, refuseOverlong } from "./limits.js";
import type { GatehouseAuthInfo, McpRegistry } from "./registry.js";
import { SESSION_IDLE_TTL_MS, type McpSessionStore, type StoredSession } from "./sessions.js";

/**
 * How long a live session with no open stream and no call in flight stays in memory. An idle session
 * costs only its database row: rebuilding it (any node can) is a record read and a replayed initialize.
 */
export const LIVE_IDLE_MS = 10_000;
/** A client whose GET stream dropped reconnects within seconds; until then its notifications are stored. */
const LISTENING_IDLE_MS = 60_000;
/** A call that never answers does not pin its session in memory for longer than this. */
const MAX_INFLIGHT_IDLE_MS = 60 * 60 * 1000;

export interface LegacyDeps {
  registry: McpRegistry;
  sessions: McpSessionStore;
  kv: KvStore;
  clock: Clock;
  positions: PositionAllocator;
  eventTtlMs: number;
  limits: McpLimits;
  jsonAnswers?: boolean;
  bus: EventBus;
  nodeId: string;
  logger: Logger;
}

function messagesOf(body: unknown): unknown[] {
  return Array.isArray(body) ? body : [body];
}

export class LegacySessions {
  private readonly live = new Map<string, LiveSession>();
  private readonly reviving = new Map<string, Promise<LiveSession>>();
  private readonly factory: LiveSessionFactory;
  private readonly quota: SessionQuota;
  /** Answer quick calls as JSON (legacy-held.ts): from the configuration; the bench flips it to compare both forms. */
  jsonAnswers: boolean;

  constructor(private readonly deps: LegacyDeps) {
    this.jsonAnswers = deps.jsonAnswers ?? false;
    this.factory = new LiveSessionFactory(deps);
    this.quota = new SessionQuota(deps, this.live, (id) => this.close(id));
  }

  get size(): number {
    return this.live.size;
  }

  async handle(request: Request, auth: GatehouseAuthInfo, parsedBody: unknown): Promise<Response> {
    const sessionId = request.headers.get("mcp-session-id");
    // MCP 2025-03-26 §Lifecycle: initialize is never batched; 2025-06-18 removed batching altogether.
    if (Array.isArray(parsedBody) && parsedBody.some((m) => isInitializeRequest(m))) {
      return jsonRpcError(400, -32600, "Invalid Request: initialize must not be part of a batch");
    }
    if (!sessionId) {
      if (request.method === "POST" && messagesOf(parsedBody).some((m) => isInitializeRequest(m))) {
        return this.initialize(request, auth, parsedBody);
      }
      return jsonRpcError(400, -32000, "Bad Request: Mcp-Session-Id header is required");
    }
    const owner = { userId: auth.extra.userId, clientId: auth.clientId };
    // While the bus is reliable, this node's live copy is as current as the record: DELETE on another node,
    // revocation and user removal all close it through the bus. Otherwise, or for someone else, ask the database.
    const cached = this.live.get(sessionId);
    const stored =
      cached?.stored && this.deps.bus.reliable && cached.userId === owner.userId && cached.clientId === owner.clientId
        ? cached.stored
        : await this.deps.sessions.find(sessionId, owner);
    // Another user's (or client's) session id is indistinguishable from an unknown one (THREATS 45).
    if (!stored) return jsonRpcError(404, -32001, "Session not found");
    if (Array.isArray(parsedBody) && stored.protocolVersion !== "2025-03-26") {
      return jsonRpcError(400, -32600, "Invalid Request: JSON-RPC batching is not supported in this protocol version");
    }
    const refused = refuseOverlong(parsedBody, this.deps.limits);
    if (refused) return refused;
    if (request.method === "GET") return this.stream(request, auth, stored);
    return this.serve(request, auth, parsedBody, stored);
  }

  /**
   * A GET stream, standalone or resumed, takes one of the user's stream slots on this node until it ends
   * (README "Limits"); the SDK answers a second standalone stream of one session with 409 itself.
   */
  private async stream(request: Request, auth: GatehouseAuthInfo, stored: StoredSession): Promise<Response> {
    const userId = auth.extra.userId;
    if (!this.quota.reserveGetStream(userId)) {
      const max = this.deps.limits.maxGetStreamsPerUser;
      return jsonRpcError(429, LIMIT_EXCEEDED, `Too many open streams: at most ${max} GET streams per user on this server; close one first`);
    }
    let released = false;
    const release = () => {
      if (!released) this.quota.releaseGetStream(userId);
      released = true;
    };
    try {
      const response = await this.serve(request, auth, undefined, stored, release);
      if (!isEventStream(response)) release();
      return response;
    } catch (error) {
      release();
      throw error;
    }
  }

  private async serve(
    request: Request,
    auth: GatehouseAuthInfo,
    parsedBody: unknown,
    stored: StoredSession,
    onStreamEnd?: () => void,
  ): Promise<Response> {
    const sessionId = stored.id;
    const live = this.live.get(sessionId) ?? (await this.revive(stored));
    live.lastUsed = this.deps.clock.now();
    // An upstream's lists changed since this live copy was built (gateway/notifications.ts).
    this.deps.registry.sync(live.server, (error) => this.deps.logger.error("MCP handler failed on the database", { error }));
    await this.deps.sessions.touch(stored);
    request = withNegotiatedVersion(request, stored.protocolVersion);
    await this.rememberLogLevel(sessionId, parsedBody);
    if (request.method === "POST" && messagesOf(parsedBody).every((m) => mayBeResponse(m) && (isJSONRPCResponse(m) || isJSONRPCErrorResponse(m)))) {
      // Answers to server-to-client requests: the node that asked may be another one.
      for (const message of messagesOf(parsedBody)) {
        await this.deps.bus.publish({ type: "session-message", sessionId, message: message as JSONRPCMessage, origin: this.deps.nodeId });
      }
    }
    // The SDK primes POST streams only; a GET stream gets the same anchor (taken before the stream can carry
    // anything), so a client that loses it before any notification still resumes what was raised meanwhile.
    const primingId =
      request.method === "GET" && !request.headers.has("last-event-id") && stored.protocolVersion >= "2025-11-25"
        ? await live.events.storeEvent(STANDALONE_STREAM, {} as JSONRPCMessage)
        : null;
    const response =
      (this.jsonAnswers && request.method === "POST" && !Array.isArray(parsedBody) ? await live.held.serve(request, parsedBody, auth) : undefined) ??
      (await live.transport.handleRequest(request, { authInfo: auth, parsedBody }));
    if (request.method === "DELETE" && response.ok) {
      await this.end(sessionId);
      return response;
    }
    return this.track(live, request, response, primingId, onStreamEnd);
  }

  private async initialize(request: Request, auth: GatehouseAuthInfo, parsedBody: unknown): Promise<Response> {
    const init = messagesOf(parsedBody).find((m) => isInitializeRequest(m)) as unknown as { id?: string | number; params: Record<string, unknown> };
    const refused = refuseOverlong(parsedBody, this.deps.limits) ?? clientInfoError(init, this.deps.limits);
    if (refused) return refused;
    const owner = { userId: auth.extra.userId, clientId: auth.clientId };
    if (!(await this.quota.admit(owner.userId))) {
      const max = this.deps.limits.maxSessionsPerUser;
      const message = `Too many sessions: at most ${max} per user, and none is idle; end one (DELETE) or retry later`;
      return jsonRpcError(429, LIMIT_EXCEEDED, message, init.id ?? null);
    }
    const id = randomToken(24);
    let created = false;
    const live: LiveSession = await this.factory.create(id, owner, async () => {
      const requested = String(init.params.protocolVersion ?? "");
      const record = {
        id,
        ...owner,
        protocolVersion: LEGACY_VERSIONS.includes(requested) ? requested : LEGACY_VERSIONS[0]!,
        clientInfo: (init.params.clientInfo as Record<string, unknown>) ?? {},
        clientCapabilities: (init.params.capabilities as Record<string, unknown>) ?? {},
      };
      await this.deps.sessions.create(record);
      live.stored = { ...record, lastSeenAt: this.deps.clock.now() };
      created = true;
      this.live.set(id, live);
    });
    const response = await live.transport.handleRequest(request, { authInfo: auth, parsedBody });
    if (!created) {
      await live.server.close().catch(() => {});
      return response;
    }
    return this.track(live, request, response);
  }

  /** Rebuilds a session this node does not hold; concurrent requests for it share one rebuild. */
  private revive(stored: StoredSession): Promise<LiveSession> {
    const pending = this.reviving.get(stored.id);
    if (pending) return pending;
    const promise = this.factory
      .restore(stored)
      .then((live) => {
        this.live.set(stored.id, live);
        return live;
      })
      .finally(() => this.reviving.delete(stored.id));
    this.reviving.set(stored.id, promise);
    return promise;
  }

  /** `logging/setLevel` is session state: kept where any node reviving the session finds it. */
  private async rememberLogLevel(sessionId: string, parsedBody: unknown): Promise<void> {
    for (const message of messagesOf(parsedBody)) {
      if (!hasMethod(message, "logging/setLevel") || !isJSONRPCRequest(message)) continue;
      const level = (message.params as { level?: unknown } | undefined)?.level;
      if (typeof level === "string" && LOG_LEVELS.has(level)) {
        await this.deps.kv.set(logLevelKey(sessionId), level, { ttlMs: SESSION_IDLE_TTL_MS });
      }
    }
  }

  /** Counts the stream; a GET stream makes this node the session's listener, and the others stop writing. */
  private track(live: LiveSession, request: Request, response: Response, primingId: string | null = null, onEnd?: () => void): Response {
    if (isEventStream(response) && request.method === "GET" && isStandaloneStream(request.headers.get("last-event-id"))) {
      live.listening = true;
      this.deps.bus
        .publish({ type: "session-listening", sessionId: live.id, origin: this.deps.nodeId })
        .catch((error: unknown) => this.deps.logger.warn("bus publish failed", { error }));
    }
    const priming = primingId === null ? null : new TextEncoder().encode(`id: ${primingId}\nretry: ${RETRY_INTERVAL_MS}\ndata: \n\n`);
    return countedStream(live, response, () => this.deps.clock.now(), priming, onEnd);
  }

  /** DELETE: the session is over everywhere. */
  private async end(sessionId: string): Promise<void> {
    await this.deps.sessions.delete(sessionId);
    await this.deps.bus.publish({ type: "session-closed", sessionId });
  }

  /** Closes this node's live copy of a session (its open streams end). */
  async close(sessionId: string): Promise<void> {
    const live = this.live.get(sessionId);
    if (!live) return;
    this.live.delete(sessionId);
    await live.server.close().catch(() => {});
  }

  /**
   * Shutting down: GET streams carry only notifications, so they end now and their clients resume
   * elsewhere from their last event id; calls in flight keep their streams until they answer.
   */
  closeListeningStreams(): void {
    for (const live of this.live.values()) live.transport.closeStandaloneSSEStream();
  }

  async closeFor(userId: string, clientId?: string): Promise<void> {
    const ids = [...this.live.values()].filter((l) => l.userId === userId && (clientId === undefined || l.clientId === clientId));
    await Promise.all(ids.map((l) => this.close(l.id)));
  }

  /** A client's answer to a server-to-client request, relayed from the node that received it. */
  deliver(sessionId: string, message: JSONRPCMessage): void {
    this.live.get(sessionId)?.transport.onmessage?.(message);
  }

  /** Another node now holds the session's GET stream. */
  stopListening(sessionId: string): void {
    const live = this.live.get(sessionId);
    if (live) live.listening = false;
  }

  /** A change event: only to sessions of the users concerned, and only where the client listens (or will resume). */
  async notify(event: ServerEvent, userId: string | undefined): Promise<void> {
    for (const live of this.live.values()) {
      if (!live.listening || (userId !== undefined && live.userId !== userId)) continue;
      const server = live.server;
      if (event.kind === "tools_list_changed") server.sendToolListChanged();
      else if (event.kind === "prompts_list_changed") server.sendPromptListChanged();
      else if (event.kind === "resources_list_changed") server.sendResourceListChanged();
      else if (event.kind === "resource_updated") {
        const subscribed = await this.deps.kv.get(subscriptionKey(live.id, event.uri));
        if (subscribed !== null) await server.server.sendResourceUpdated({ uri: event.uri });
      }
    }
  }

  /** Drops idle live sessions from memory; their records stay, and any node can revive them. */
  async sweepIdle(): Promise<void> {
    await this.quota.markBusy().catch((error: unknown) => this.deps.logger.warn("marking busy sessions failed", { error }));
    const now = this.deps.clock.now();
    for (const live of [...this.live.values()]) {
      if (live.activeStreams > 0) continue;
      const idle = now - live.lastUsed;
      const keep = live.inflight.size > 0 ? MAX_INFLIGHT_IDLE_MS : live.listening ? LISTENING_IDLE_MS : LIVE_IDLE_MS;
      if (idle > keep) await this.close(live.id);
    }
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.live.keys()].map((id) => this.close(id)));
  }
}
