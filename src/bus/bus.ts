/**
 * What one node tells all the others: revocations (drop cached tokens, close
 * sessions and streams), MCP change events for listeners, and messages for a
 * session held by another node. PostgreSQL LISTEN/NOTIFY when on PostgreSQL
 * (every node, including the sender, hears each message once); in-process on
 * PGlite, which is one process anyway.
 */
import type { JSONRPCMessage, ServerEvent } from "@modelcontextprotocol/server";

export type BusMessage =
  | { type: "connection-revoked"; connectionId: string; userId: string; clientId: string; closeSessions: boolean }
  | { type: "access-token-revoked"; tokenHash: string }
  | { type: "session-closed"; sessionId: string }
  | { type: "mcp-event"; userId?: string; event: ServerEvent }
  | { type: "user-removed"; userId: string }
  /** A disabled account: every session of the user closes, whichever credential opened it. */
  | { type: "user-disabled"; userId: string }
  | { type: "session-message"; sessionId: string; message: JSONRPCMessage; origin: string }
  /** A node opened the session's GET stream: others stop writing its notifications (no duplicates on resume). */
  | { type: "session-listening"; sessionId: string; origin: string }
  /** `gatehouse keys rotate` wrote new identity-token signing keys: every node rereads them. */
  | { type: "signing-keys-changed" };

export interface EventBus {
  publish(message: BusMessage): Promise<void>;
  subscribe(listener: (message: BusMessage) => void): () => void;
  /** Told when messages may have been missed (a dropped LISTEN connection): caches must be flushed. */
  onReset(listener: () => void): () => void;
  /** False while messages may be missed; token caching is off then. */
  readonly reliable: boolean;
  close(): Promise<void>;
}

export class Listeners<T extends unknown[]> {
  private readonly set = new Set<(...args: T) => void>();
  add(listener: (...args: T) => void): () => void {
    this.set.add(listener);
    return () => this.set.delete(listener);
  }
  emit(...args: T): void {
    for (const listener of this.set) listener(...args);
  }
}

