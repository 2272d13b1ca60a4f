/**
 * One URL, every protocol generation: each request is classified by the
 * SDK's `isLegacyRequest` and served statelessly (2026-07-28) or within a
 * stored session (2025). Bus messages from any node close revoked sessions
 * and streams, relay session messages, and deliver change events.
 */
import { isLegacyRequest, type ServerEvent } from "@modelcontextprotocol/server";
import type { Clock } from "../clock.js";
import type { McpLimits } from "../config.js";
import type { Logger } from "../logger.js";
import type { KvStore } from "../storage/kv/kv.js";
import type { BusMessage, EventBus } from "../bus/bus.js";
import { BodyTooLargeError, readBodyCapped } from "../web/body.js";
import { PositionAllocator } from "./event-store.js";
import { jsonRpcError } from "./json-rpc.js";
import { LegacySessions } from "./legacy.js";
import { refuseOverlong } from "./limits.js";
import { ModernHandlers } from "./modern.js";
import type { GatehouseAuthInfo, McpRegistry } from "./registry.js";
import type { McpSessionStore } from "./sessions.js";

export interface McpEndpointDeps {
  registry: McpRegistry;
  sessions: McpSessionStore;
  kv: KvStore;
  clock: Clock;
  bus: EventBus;
  nodeId: string;
  eventTtlMs: number;
  limits: McpLimits;
  /** Quick 2025 session calls answered as JSON (legacy-held.ts); off unless configured. */
  jsonAnswers?: boolean;
  logger: Logger;
}

/** Which users a change concerns: everyone, or one user. */
export interface Notifier {
  toolsChanged(userId?: string): Promise<void>;
  promptsChanged(userId?: string): Promise<void>;
  resourcesChanged(userId?: string): Promise<void>;
  resourceUpdated(uri: string, userId?: string): Promise<void>;
}

export class McpEndpoint {
  readonly legacy: LegacySessions;
  readonly modern: ModernHandlers;
  readonly notify: Notifier;
  private readonly unsubscribe: () => void;

  constructor(private readonly deps: McpEndpointDeps) {
    this.legacy = new LegacySessions({
      ...deps,
      positions: new PositionAllocator(deps.clock, deps.nodeId),
    });
    this.modern = new ModernHandlers(deps.registry, deps.clock, deps.logger);
    this.unsubscribe = deps.bus.subscribe((message) => {
      this.onBusMessage(message).catch((error: unknown) => deps.logger.warn("bus message failed", { error }));
    });
    const publish = (event: ServerEvent, userId?: string) =>
      deps.bus.publish({ type: "mcp-event", event, ...(userId ? { userId } : {}) });
    this.notify = {
      toolsChanged: (userId) => publish({ kind: "tools_list_changed" }, userId),
      promptsChanged: (userId) => publish({ kind: "prompts_list_changed" }, userId),
      resourcesChanged: (userId) => publish({ kind: "resources_list_changed" }, userId),
      resourceUpdated: (uri, userId) => publish({ kind: "resource_updated", uri }, userId),
    };
  }

  private async onBusMessage(message: BusMessage): Promise<void> {
    switch (message.type) {
      case "connection-revoked":
        if (!message.closeSessions) return;
        await this.legacy.closeFor(message.userId, message.clientId);
        await this.modern.closeFor(message.userId, message.clientId);
        return;
      case "user-removed":
      case "user-disabled":
        await this.legacy.closeFor(message.userId);
        await this.modern.closeFor(message.userId);
        return;
      case "session-closed":
        await this.legacy.close(message.sessionId);
        return;
      case "session-message":
        if (message.origin !== this.deps.nodeId) this.legacy.deliver(message.sessionId, message.message);
        return;
      case "session-listening":
        if (message.origin !== this.deps.nodeId) this.legacy.stopListening(message.sessionId);
        return;
      case "mcp-event":
        this.modern.notify(message.event, message.userId);
        await this.legacy.notify(message.event, message.userId);
        return;
      case "access-token-revoked":
        return;
    }
  }

  async handle(request: Request, auth: GatehouseAuthInfo): Promise<Response> {
    let parsedBody: unknown;
    if (request.method === "POST") {
      const type = request.headers.get("content-type") ?? "";
      if (!/^application\/json\b/i.test(type)) {
        return jsonRpcError(415, -32000, "Unsupported Media Type: Content-Type must be application/json");
      }
      const { maxBodyBytes } = this.deps.limits;
      const declared = Number(request.headers.get("content-length") ?? 0);
      if (declared > maxBodyBytes) return jsonRpcError(413, -32000, "Request body too large");
      // Read once and hand the SDK the parsed body: it then never reads (or clones) the request itself.
      // Cut while streaming: a chunked body declares no length, and buffering it whole first would let
      // any token holder make this process hold hundreds of megabytes per request.
      let raw: Uint8Array;
      try {
        raw = await readBodyCapped(request, maxBodyBytes);
      } catch (error) {
        if (error instanceof BodyTooLargeError) return jsonRpcError(413, -32000, "Request body too large");
        throw error;
      }
      try {
        parsedBody = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw));
      } catch {
        return jsonRpcError(400, -32700, "Parse error: the request body is not valid JSON");
      }
    }
    // The simple 2026-07-28 requests take the lean dispatch, before the SDK's (costly) classification.
    const lean = this.modern.lean(request, auth, parsedBody);
    if (lean) return lean;
    if (await isLegacyRequest(request, parsedBody)) return this.legacy.handle(request, auth, parsedBody);
    return refuseOverlong(parsedBody, this.deps.limits) ?? this.modern.fetch(request, auth, parsedBody);
  }

  async sweep(): Promise<void> {
    await this.legacy.sweepIdle();
    await this.modern.sweepIdle();
  }

  async close(): Promise<void> {
    this.unsubscribe();
    await this.legacy.closeAll();
    await this.modern.closeAll();
  }
}
