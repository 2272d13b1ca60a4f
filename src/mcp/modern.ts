/**
 * MCP 2026-07-28: stateless, one fresh SDK server per request, served by
 * the SDK's `createMcpHandler`. One handler per (user, client): its event
 * bus carries only that user's change events to their `subscriptions/listen`
 * streams, and closing it ends those streams when the connection is revoked.
 */
import { createMcpHandler, InMemoryServerEventBus, type McpHttpHandler, type ServerEvent } from "@modelcontextprotocol/server";
import type { Clock } from "../clock.js";
import type { Logger } from "../logger.js";
import type { GatehouseAuthInfo, McpRegistry } from "./registry.js";

interface HandlerEntry {
  handler: McpHttpHandler;
  userId: string;
  clientId: string;
  lastUsed: number;
}

/** A handler unused this long is closed (ending any listen stream it still holds; clients re-listen). */
const HANDLER_IDLE_MS = 60 * 60 * 1000;

export class ModernHandlers {
  private readonly handlers = new Map<string, HandlerEntry>();

  constructor(
    private readonly registry: McpRegistry,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  private entryFor(auth: GatehouseAuthInfo): HandlerEntry {
    const key = `${auth.extra.userId}\n${auth.clientId}`;
    let entry = this.handlers.get(key);
    if (!entry) {
      const handler = createMcpHandler(() => this.registry.build(), {
        legacy: "reject",
        bus: new InMemoryServerEventBus(),
        onerror: (error) => this.logger.debug("mcp request rejected", { error: error.message }),
      });
      entry = { handler, userId: auth.extra.userId, clientId: auth.clientId, lastUsed: 0 };
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
    const entries = [...this.handlers.values()];
    this.handlers.clear();
    await Promise.all(entries.map((e) => e.handler.close().catch(() => {})));
  }
}
