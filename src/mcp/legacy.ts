/**
 * Session-based Streamable HTTP (MCP 2025-03-26 … 2025-11-25), served from
 * any node. The session record lives in the database; each node keeps a
 * live SDK server + transport per session it is serving, rebuilt from the
 * record when a request for an unknown-here session arrives (no sticky
 * routing), and dropped when idle. Events are stored in the shared KV store,
 * so a stream resumes on any node, after a restart too.
 *
 * Why not the SDK's session handling alone: its sessions are in-process
 * only, and it has no way to restore one on another process — see revive().
 */
import { randomInt } from "node:crypto";
import {
  InMemoryTransport,
  WebStandardStreamableHTTPServerTransport,
  isInitializeRequest,
  isJSONRPCResponse,
  isJSONRPCErrorResponse,
  isJSONRPCRequest,
  isJSONRPCNotification,
  type JSONRPCMessage,
  type McpServer,
  type ServerEvent,
} from "@modelcontextprotocol/server";
import type { Clock } from "../clock.js";
import { randomToken } from "../crypto.js";
import type { Logger } from "../logger.js";
import type { KvStore } from "../storage/kv/kv.js";
import type { EventBus } from "./event-bus.js";
import { KvEventStore, type PositionAllocator } from "./event-store.js";
import {
  isStandaloneStream,
  legacyError,
  LEGACY_VERSIONS,
  LOG_LEVELS,
  logLevelKey,
  STANDALONE_STREAM,
  withNegotiatedVersion,
  type Inflight,
} from "./legacy-protocol.js";
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
/** `retry:` sent with priming events: how soon a client reconnects a dropped stream. */
const RETRY_INTERVAL_MS = 1000;

interface LiveSession {
  id: string;
  userId: string;
  clientId: string;
  server: McpServer;
  transport: WebStandardStreamableHTTPServerTransport;
  events: KvEventStore;
  activeStreams: number;
  /**
   * The client listens on this node: its GET stream was opened here last. Stays set while the stream is
   * down, so notifications are stored for it to resume; cleared when another node takes the stream over.
   */
  listening: boolean;
  /** Requests still being answered: the live copy is kept until they are, even with no stream open. */
  inflight: Inflight;
  lastUsed: number;
  stored: StoredSession | null;
}

export interface LegacyDeps {
  registry: McpRegistry;
  sessions: McpSessionStore;
  kv: KvStore;
  clock: Clock;
  positions: PositionAllocator;
  eventTtlMs: number;
  bus: EventBus;
  nodeId: string;
  logger: Logger;
}

export function jsonRpcError(status: number, code: number, message: string): Response {
  return Response.json({ jsonrpc: "2.0", error: { code, message }, id: null }, { status });
}

function messagesOf(body: unknown): unknown[] {
  return Array.isArray(body) ? body : [body];
}

export class LegacySessions {
  private readonly live = new Map<string, LiveSession>();
  private readonly reviving = new Map<string, Promise<LiveSession>>();

  constructor(private readonly deps: LegacyDeps) {}

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
    const live = this.live.get(sessionId) ?? (await this.revive(stored));
    live.lastUsed = this.deps.clock.now();
    await this.deps.sessions.touch(stored);
    request = withNegotiatedVersion(request, stored.protocolVersion);
    await this.rememberLogLevel(sessionId, parsedBody);
    if (request.method === "POST" && messagesOf(parsedBody).every((m) => isJSONRPCResponse(m) || isJSONRPCErrorResponse(m))) {
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
    const response = await live.transport.handleRequest(request, { authInfo: auth, parsedBody });
    if (request.method === "DELETE" && response.ok) {
      await this.end(sessionId);
      return response;
    }
    return this.track(live, request, response, primingId);
  }

  private async initialize(request: Request, auth: GatehouseAuthInfo, parsedBody: unknown): Promise<Response> {
    const init = messagesOf(parsedBody).find((m) => isInitializeRequest(m)) as { params: Record<string, unknown> };
    const id = randomToken(24);
    const server = this.build();
    const created = { ok: false };
    const inflight = new Map() as Inflight;
    const events = this.events(id);
    const transport = this.transport(id, events, inflight, async () => {
      const requested = String(init.params.protocolVersion ?? "");
      const record = {
        id,
        userId: live.userId,
        clientId: live.clientId,
        protocolVersion: LEGACY_VERSIONS.includes(requested) ? requested : LEGACY_VERSIONS[0]!,
        clientInfo: (init.params.clientInfo as Record<string, unknown>) ?? {},
        clientCapabilities: (init.params.capabilities as Record<string, unknown>) ?? {},
      };
      await this.deps.sessions.create(record);
      live.stored = { ...record, lastSeenAt: this.deps.clock.now() };
      created.ok = true;
      this.live.set(id, live);
    });
    const live: LiveSession = {
      id,
      userId: auth.extra.userId,
      clientId: auth.clientId,
      server,
      transport,
      events,
      activeStreams: 0,
      listening: false,
      inflight,
      lastUsed: this.deps.clock.now(),
      stored: null,
    };
    await this.connect(server, transport, inflight);
    const response = await transport.handleRequest(request, { authInfo: auth, parsedBody });
    if (!created.ok) {
      await server.close().catch(() => {});
      return response;
    }
    return this.track(live, request, response);
  }

  /** A server for one session: the registry's, plus resource subscriptions remembered in the KV store. */
  private build(): McpServer {
    const server = this.deps.registry.build();
    // Server-to-client request ids are a per-instance counter in the SDK (a field it has no option for).
    // Several nodes may hold one session and a client's answer is relayed to all of them, so each copy
    // counts from its own random start: two nodes asking at once never share an id.
    (server.server as unknown as { _requestMessageId: number })._requestMessageId = randomInt(2 ** 47);
    if (this.deps.registry.resources.length === 0) return server;
    const key = (sessionId: string | undefined, uri: string) => `mcp:subscription:${sessionId ?? "-"}:${uri}`;
    server.server.setRequestHandler("resources/subscribe", async (request, ctx) => {
      await this.deps.kv.set(key(ctx.sessionId, request.params.uri), "1", { ttlMs: SESSION_IDLE_TTL_MS });
      return {};
    });
    server.server.setRequestHandler("resources/unsubscribe", async (request, ctx) => {
      await this.deps.kv.del(key(ctx.sessionId, request.params.uri));
      return {};
    });
    return server;
  }

  private events(sessionId: string): KvEventStore {
    return new KvEventStore(this.deps.kv, sessionId, this.deps.positions, this.deps.eventTtlMs);
  }

  private transport(
    sessionId: string,
    events: KvEventStore,
    inflight: Inflight,
    onInitialized?: () => Promise<void>,
  ): WebStandardStreamableHTTPServerTransport {
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => sessionId,
      ...(onInitialized ? { onsessioninitialized: onInitialized } : {}),
      eventStore: events,
      retryInterval: RETRY_INTERVAL_MS,
    });
    const send = transport.send.bind(transport);
    transport.send = async (message, options) => {
      const answered = isJSONRPCResponse(message) || isJSONRPCErrorResponse(message) ? (message.id as string | number) : undefined;
      try {
        await send(isJSONRPCErrorResponse(message) ? legacyError(message, inflight.get(answered!)) : message, options);
      } finally {
        if (answered !== undefined) inflight.delete(answered);
      }
    };
    return transport;
  }

  /** Connects a session's server to its transport, counting the requests the SDK takes on until it answers them. */
  private async connect(server: McpServer, transport: WebStandardStreamableHTTPServerTransport, inflight: Inflight): Promise<void> {
    await server.connect(transport);
    const onmessage = transport.onmessage;
    transport.onmessage = (message, extra) => {
      if (isJSONRPCRequest(message)) inflight.set(message.id, message.method);
      // A cancelled request is never answered (MCP cancellation).
      else if (isJSONRPCNotification(message) && message.method === "notifications/cancelled") {
        const requestId = (message.params as { requestId?: string | number } | undefined)?.requestId;
        if (requestId !== undefined) inflight.delete(requestId);
      }
      onmessage?.(message, extra);
    };
  }

  /**
   * Rebuilds a session this node has not seen (another node created it, or
   * this one restarted). The negotiated state (client capabilities, protocol
   * version) is restored by replaying the stored `initialize` into a fresh
   * server; the SDK offers no API to mark a transport as already
   * initialized, so its `_initialized` flag is set directly — the session
   * tests fail loudly if an SDK upgrade changes that.
   */
  private revive(stored: StoredSession): Promise<LiveSession> {
    const pending = this.reviving.get(stored.id);
    if (pending) return pending;
    const promise = (async () => {
      const server = this.build();
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
      await server.connect(serverSide);
      await clientSide.start();
      const answered = new Promise<void>((resolve) => {
        clientSide.onmessage = () => resolve();
      });
      await clientSide.send({
        jsonrpc: "2.0",
        id: 0,
        method: "initialize",
        params: { protocolVersion: stored.protocolVersion, capabilities: stored.clientCapabilities, clientInfo: stored.clientInfo },
      } as JSONRPCMessage);
      await answered;
      const level = await this.deps.kv.get(logLevelKey(stored.id));
      if (level !== null) {
        const leveled = new Promise<void>((resolve) => {
          clientSide.onmessage = () => resolve();
        });
        await clientSide.send({ jsonrpc: "2.0", id: 1, method: "logging/setLevel", params: { level } } as JSONRPCMessage);
        await leveled;
      }
      await server.close();
      const inflight = new Map() as Inflight;
      const events = this.events(stored.id);
      const transport = this.transport(stored.id, events, inflight);
      transport.sessionId = stored.id;
      (transport as unknown as { _initialized: boolean })._initialized = true;
      await this.connect(server, transport, inflight);
      const live: LiveSession = {
        id: stored.id,
        userId: stored.userId,
        clientId: stored.clientId,
        server,
        transport,
        events,
        activeStreams: 0,
        listening: false,
        inflight,
        lastUsed: this.deps.clock.now(),
        stored,
      };
      this.live.set(stored.id, live);
      return live;
    })().finally(() => this.reviving.delete(stored.id));
    this.reviving.set(stored.id, promise);
    return promise;
  }

  /** `logging/setLevel` is session state: kept where any node reviving the session finds it. */
  private async rememberLogLevel(sessionId: string, parsedBody: unknown): Promise<void> {
    for (const message of messagesOf(parsedBody)) {
      if (!isJSONRPCRequest(message) || message.method !== "logging/setLevel") continue;
      const level = (message.params as { level?: unknown } | undefined)?.level;
      if (typeof level === "string" && LOG_LEVELS.has(level)) {
        await this.deps.kv.set(logLevelKey(sessionId), level, { ttlMs: SESSION_IDLE_TTL_MS });
      }
    }
  }

  /** Counts open SSE streams, so a session is never dropped from memory while it streams. */
  private track(live: LiveSession, request: Request, response: Response, primingId: string | null = null): Response {
    if (!response.body || !response.headers.get("content-type")?.includes("text/event-stream")) return response;
    const priming = primingId === null ? null : new TextEncoder().encode(`id: ${primingId}\nretry: ${RETRY_INTERVAL_MS}\ndata: \n\n`);
    live.activeStreams++;
    if (request.method === "GET" && isStandaloneStream(request.headers.get("last-event-id"))) {
      live.listening = true;
      this.deps.bus
        .publish({ type: "session-listening", sessionId: live.id, origin: this.deps.nodeId })
        .catch((error: unknown) => this.deps.logger.warn("bus publish failed", { error }));
    }
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      live.activeStreams--;
      live.lastUsed = this.deps.clock.now();
    };
    const reader = response.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        if (priming) controller.enqueue(priming);
      },
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            finish();
            controller.close();
          } else controller.enqueue(value);
        } catch (error) {
          finish();
          controller.error(error);
        }
      },
      cancel(reason) {
        finish();
        return reader.cancel(reason);
      },
    });
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
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
        const subscribed = await this.deps.kv.get(`mcp:subscription:${live.id}:${event.uri}`);
        if (subscribed !== null) await server.server.sendResourceUpdated({ uri: event.uri });
      }
    }
  }

  /** Drops idle live sessions from memory; their records stay, and any node can revive them. */
  async sweepIdle(): Promise<void> {
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
