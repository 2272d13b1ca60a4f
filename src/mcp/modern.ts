/**
 * MCP 2026-07-28: stateless, one SDK server per exchange, served by the
 * SDK's `createMcpHandler`. One handler per (user, client): its event bus
 * carries only that user's change events to their `subscriptions/listen`
 * streams, and closing it ends those streams when the connection is revoked.
 *
 * Servers are reused: building one (registering every tool, converting its
 * schemas) cost about a fifth of a call. The SDK only asks that an instance
 * not serve two exchanges at once; a server goes back to its (user, client)
 * pool when its exchange closes, never to another user's.
 *
 * The simple requests do not get this far: the lean dispatch (src/mcp/lean)
 * answers them with the same bytes, and hands anything else back here.
 */
import { createMcpHandler, InMemoryServerEventBus, type McpHttpHandler, type McpServer, type ServerEvent } from "@modelcontextprotocol/server";
import type { Clock } from "../clock.js";
import type { Logger } from "../logger.js";
import { LeanDispatch } from "./lean/dispatch.js";
import type { GatehouseAuthInfo, McpRegistry } from "./registry.js";

interface HandlerEntry {
  handler: McpHttpHandler;
  idle: McpServer[];
  userId: string;
  clientId: string;
  lastUsed: number;
}

/** A handler unused this long is closed (ending any listen stream it still holds; clients re-listen). */
const HANDLER_IDLE_MS = 60 * 60 * 1000;
/** Idle servers kept per (user, client); more concurrent exchanges than this build fresh ones. */
const POOL_SIZE = 16;

/** What the SDK seeds from one request's `_meta` must not carry over to the next (fields of the SDK's Server). */
interface SeededIdentity {
  _clientCapabilities?: unknown;
  _clientVersion?: unknown;
}

export class ModernHandlers {
  private readonly handlers = new Map<string, HandlerEntry>();
  /** The fast path for the simple requests (src/mcp/lean); off with `leanDispatch: false`. */
  private readonly leanDispatch: LeanDispatch | undefined;

  constructor(
    private readonly registry: McpRegistry,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    if (registry.options.leanDispatch !== false) {
      this.leanDispatch = new LeanDispatch({ registry, logger, viaSdk: (request, auth, parsedBody) => this.fetch(request, auth, parsedBody) });
    }
  }

  /** The lean dispatch's answer, or undefined when the request is the SDK's (then classify it and call `fetch`). */
  lean(request: Request, auth: GatehouseAuthInfo, parsedBody: unknown): Promise<Response> | undefined {
    return this.leanDispatch?.handle(request, auth, parsedBody);
  }

  private entryFor(auth: GatehouseAuthInfo): HandlerEntry {
    const key = `${auth.extra.userId}\n${auth.clientId}`;
    let entry = this.handlers.get(key);
    if (!entry) {
      const idle: McpServer[] = [];
      const lend = (): McpServer => {
        let pooled = idle.pop();
        // A server built before an upstream's lists changed is dropped (gateway/notifications.ts).
        while (pooled && !this.registry.isCurrent(pooled)) pooled = idle.pop();
        const server = pooled ?? this.registry.build((error) => this.logger.error("MCP handler failed on the database", { error }));
        // Called (through the SDK's own onclose wrapper) when the exchange's transport closes.
        server.server.onclose = () => {
          const seeded = server.server as unknown as SeededIdentity;
          seeded._clientCapabilities = undefined;
          seeded._clientVersion = undefined;
          if (idle.length < POOL_SIZE && this.handlers.get(key) === entry) idle.push(server);
        };
        return server;
      };
      const handler = createMcpHandler(lend, {
        legacy: "reject",
        bus: new InMemoryServerEventBus(),
        onerror: (error) => this.logger.debug("mcp request rejected", { error: error.message }),
      });
      entry = { handler, idle, userId: auth.extra.userId, clientId: auth.clientId, lastUsed: 0 };
      this.handlers.set(key, entry);
    }
    entry.lastUsed = this.clock.now();
    return entry;
  }

  fetch(request: Request, auth: GatehouseAuthInfo, parsedBody: unknown): Promise<Response> {
    return this.entryFor(auth).handler.fetch(request, { authInfo: auth, parsedBody });
  }

  notify(event: ServerEvent, userId: string | undefined): void {
    for (const entry of this.handlers.values()) {
      if (userId === undefined || entry.userId === userId) entry.handler.bus.publish(event);
    }
  }

  async closeFor(userId: string, clientId?: string): Promise<void> {
    this.leanDispatch?.calls.revoke(userId, clientId);
    for (const [key, entry] of this.handlers) {
      if (entry.userId !== userId || (clientId !== undefined && entry.clientId !== clientId)) continue;
      this.handlers.delete(key);
      await entry.handler.close().catch(() => {});
    }
  }

  async sweepIdle(): Promise<void> {
    const now = this.clock.now();
    for (const [key, entry] of this.handlers) {
      if (now - entry.lastUsed < HANDLER_IDLE_MS) continue;
      this.handlers.delete(key);
      await entry.handler.close().catch(() => {});
    }
  }

  async closeAll(): Promise<void> {
    this.leanDispatch?.calls.revoke();
    const entries = [...this.handlers.values()];
    this.handlers.clear();
    await Promise.all(entries.map((e) => e.handler.close().catch(() => {})));
  }
}
