/**
 * Building a live 2025 session on this node: an SDK server from the registry
 * (with resource subscriptions kept in the KV store), a transport writing
 * every event to the shared event store, and the count of calls in flight.
 * A session is built fresh at `initialize`, or rebuilt from its stored record
 * when a request for it reaches a node that does not hold it (`restore`).
 */
import { randomInt } from "node:crypto";
import {
  InMemoryTransport,
  ProtocolError,
  WebStandardStreamableHTTPServerTransport,
  isJSONRPCErrorResponse,
  isJSONRPCNotification,
  isJSONRPCRequest,
  isJSONRPCResponse,
  type JSONRPCMessage,
  type McpServer,
} from "@modelcontextprotocol/server";
import type { Clock } from "../clock.js";
import type { McpLimits } from "../config.js";
import type { Logger } from "../logger.js";
import type { KvStore } from "../storage/kv/kv.js";
import { KvEventStore, type PositionAllocator } from "./event-store.js";
import { EventWriter } from "./event-writer.js";
import { internalError } from "./handler-errors.js";
import { HeldCalls } from "./legacy-held.js";
import { hasMethod, legacyError, logLevelKey, mayBeResponse, type Inflight } from "./legacy-protocol.js";
import { INVALID_PARAMS, LIMIT_EXCEEDED } from "./limits.js";
import type { McpRegistry } from "./registry.js";
import { SESSION_IDLE_TTL_MS, type StoredSession } from "./sessions.js";

/** `retry:` sent with priming events: how soon a client reconnects a dropped stream. */
export const RETRY_INTERVAL_MS = 1000;

export interface LiveSession {
  id: string;
  userId: string;
  clientId: string;
  server: McpServer;
  transport: WebStandardStreamableHTTPServerTransport;
  events: KvEventStore;
  /** Calls whose answers are held, to go out as JSON when nothing of them needs resuming. */
  held: HeldCalls;
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

export interface LiveSessionFactoryDeps {
  registry: McpRegistry;
  kv: KvStore;
  clock: Clock;
  positions: PositionAllocator;
  eventTtlMs: number;
  limits: McpLimits;
  logger: Logger;
}

const subscriptionPrefix = (sessionId: string | undefined) => `mcp:subscription:${sessionId ?? "-"}:`;

export function subscriptionKey(sessionId: string | undefined, uri: string): string {
  return `${subscriptionPrefix(sessionId)}${uri}`;
}

export class LiveSessionFactory {
  /** One writer for every session on this node: their events are stored together (event-writer.ts). */
  private readonly writer: EventWriter;

  constructor(private readonly deps: LiveSessionFactoryDeps) {
    this.writer = new EventWriter(deps.kv, deps.eventTtlMs);
  }

  /** A new session's live copy, connected; `onInitialized` runs once the SDK accepts its initialize. */
  async create(id: string, owner: { userId: string; clientId: string }, onInitialized: () => Promise<void>): Promise<LiveSession> {
    const server = this.build();
    const inflight = new Map() as Inflight;
    const events = this.events(id);
    const { transport, held } = this.transport(id, events, inflight, onInitialized);
    await this.connect(server, transport, inflight);
    return this.live(id, owner, server, transport, events, held, inflight, null);
  }

  /**
   * Rebuilds a session this node has not seen (another node created it, or
   * this one restarted). The negotiated state (client capabilities, protocol
   * version) is restored by replaying the stored `initialize` into a fresh
   * server; the SDK offers no API to mark a transport as already
   * initialized, so its `_initialized` flag is set directly — the session
   * tests fail loudly if an SDK upgrade changes that.
   */
  async restore(stored: StoredSession): Promise<LiveSession> {
    const server = this.build();
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    await clientSide.start();
    const ask = async (message: JSONRPCMessage) => {
      const answered = new Promise<void>((resolve) => {
        clientSide.onmessage = () => resolve();
      });
      await clientSide.send(message);
      await answered;
    };
    await ask({
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: { protocolVersion: stored.protocolVersion, capabilities: stored.clientCapabilities, clientInfo: stored.clientInfo },
    } as JSONRPCMessage);
    const level = await this.deps.kv.get(logLevelKey(stored.id));
    if (level !== null) await ask({ jsonrpc: "2.0", id: 1, method: "logging/setLevel", params: { level } } as JSONRPCMessage);
    await server.close();
    const inflight = new Map() as Inflight;
    const events = this.events(stored.id);
    const { transport, held } = this.transport(stored.id, events, inflight);
    transport.sessionId = stored.id;
    (transport as unknown as { _initialized: boolean })._initialized = true;
    await this.connect(server, transport, inflight);
    return this.live(stored.id, stored, server, transport, events, held, inflight, stored);
  }

  private live(
    id: string,
    owner: { userId: string; clientId: string },
    server: McpServer,
    transport: WebStandardStreamableHTTPServerTransport,
    events: KvEventStore,
    held: HeldCalls,
    inflight: Inflight,
    stored: StoredSession | null,
  ): LiveSession {
    return {
      id,
      userId: owner.userId,
      clientId: owner.clientId,
      server,
      transport,
      events,
      held,
      activeStreams: 0,
      listening: false,
      inflight,
      lastUsed: this.deps.clock.now(),
      stored,
    };
  }

  /** A server for one session: the registry's, plus resource subscriptions remembered in the KV store. */
  private build(): McpServer {
    const report = (error: unknown) => this.deps.logger.error("MCP handler failed on the database", { error });
    const server = this.deps.registry.build(report);
    // Server-to-client request ids are a per-instance counter in the SDK (a field it has no option for).
    // Several nodes may hold one session and a client's answer is relayed to all of them, so each copy
    // counts from its own random start: two nodes asking at once never share an id.
    (server.server as unknown as { _requestMessageId: number })._requestMessageId = randomInt(2 ** 47);
    if (this.deps.registry.resources.length === 0) return server;
    // Our own handlers: whatever fails below is ours, so nothing of it reaches the client (handler-errors.ts).
    const guarded = async (run: () => Promise<void>) => {
      try {
        await run();
        return {};
      } catch (error) {
        if (error instanceof ProtocolError) throw error;
        report(error);
        throw internalError();
      }
    };
    server.server.setRequestHandler("resources/subscribe", (request, ctx) =>
      guarded(() => this.subscribe(ctx.sessionId, request.params.uri)),
    );
    server.server.setRequestHandler("resources/unsubscribe", (request, ctx) =>
      guarded(async () => void (await this.deps.kv.del(subscriptionKey(ctx.sessionId, request.params.uri)))),
    );
    return server;
  }

  /**
   * A subscription is a KV key holding its URI: the URI's length is capped (a key past the index's
   * row size is a database error, and a long one is repeated in every notification), and so is the
   * number a session holds (README "Limits"). Subscribing again to a held URI only refreshes it.
   */
  private async subscribe(sessionId: string | undefined, uri: string): Promise<void> {
    const { maxUriChars, maxSubscriptionsPerSession: max } = this.deps.limits;
    if (uri.length > maxUriChars) throw new ProtocolError(INVALID_PARAMS, `Invalid params: the URI is longer than ${maxUriChars} characters`);
    const key = subscriptionKey(sessionId, uri);
    if ((await this.deps.kv.get(key)) === null) {
      const held = await this.deps.kv.scanByPrefix(subscriptionPrefix(sessionId), { limit: max });
      if (held.entries.length >= max) {
        throw new ProtocolError(LIMIT_EXCEEDED, `Too many subscriptions: at most ${max} per session; unsubscribe from one first`);
      }
    }
    await this.deps.kv.set(key, "1", { ttlMs: SESSION_IDLE_TTL_MS });
  }

  private events(sessionId: string): KvEventStore {
    return new KvEventStore(this.deps.kv, sessionId, this.deps.positions, this.deps.eventTtlMs, {
      maxEvents: this.deps.limits.maxEventsPerStream,
      onError: (error) => this.deps.logger.warn("trimming stored events failed", { error }),
      writer: this.writer,
    });
  }

  private transport(
    sessionId: string,
    events: KvEventStore,
    inflight: Inflight,
    onInitialized?: () => Promise<void>,
  ): { transport: WebStandardStreamableHTTPServerTransport; held: HeldCalls } {
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => sessionId,
      ...(onInitialized ? { onsessioninitialized: onInitialized } : {}),
      eventStore: events,
      retryInterval: RETRY_INTERVAL_MS,
    });
    const held = new HeldCalls(transport, events);
    const send = transport.send.bind(transport);
    transport.send = async (message, options) => {
      const answered = mayBeResponse(message) && (isJSONRPCResponse(message) || isJSONRPCErrorResponse(message)) ? (message.id as string | number) : undefined;
      try {
        const outgoing = answered !== undefined && "error" in message && isJSONRPCErrorResponse(message) ? legacyError(message, inflight.get(answered)) : message;
        if (!held.intercept(outgoing, answered ?? options?.relatedRequestId, answered !== undefined)) await send(outgoing, options);
      } finally {
        if (answered !== undefined) inflight.delete(answered);
      }
    };
    const close = transport.close.bind(transport);
    transport.close = () => {
      held.closeAll();
      return close();
    };
    return { transport, held };
  }

  /** Connects a session's server to its transport, counting the requests the SDK takes on until it answers them. */
  private async connect(server: McpServer, transport: WebStandardStreamableHTTPServerTransport, inflight: Inflight): Promise<void> {
    await server.connect(transport);
    const onmessage = transport.onmessage;
    transport.onmessage = (message, extra) => {
      if (hasMethod(message) && isJSONRPCRequest(message)) inflight.set(message.id, message.method);
      // A cancelled request is never answered (MCP cancellation).
      else if (hasMethod(message, "notifications/cancelled") && isJSONRPCNotification(message)) {
        const requestId = (message.params as { requestId?: string | number } | undefined)?.requestId;
        if (requestId !== undefined) inflight.delete(requestId);
      }
      onmessage?.(message, extra);
    };
  }
}
