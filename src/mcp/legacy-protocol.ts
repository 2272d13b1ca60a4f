/**
 * What the 2025 revisions (session-based Streamable HTTP) say that the SDK's
 * session transport does differently, or leaves to us: the negotiated
 * version, the standalone stream's event ids, and a few error codes.
 */
import { SUPPORTED_PROTOCOL_VERSIONS, type JSONRPCErrorResponse } from "@modelcontextprotocol/server";
import { parseEventId } from "./event-store.js";

/** The SDK's name for a session's standalone (GET) stream, as it appears in event ids. */
export const STANDALONE_STREAM = "_GET_stream";
/** The 2025 revisions, newest first: what initialize negotiates, as the SDK does. */
export const LEGACY_VERSIONS = SUPPORTED_PROTOCOL_VERSIONS.filter((version) => version < "2026");
/** What the SDK (and the spec) assume of a request without MCP-Protocol-Version. */
const DEFAULT_VERSION = "2025-03-26";

/**
 * Shape tests run before the SDK's guards (zod schemas, µs per call, most when they fail): a message
 * with neither `result` nor `error` is no response, and one without `method` no request. Only a message
 * of the right shape is then given to the guard, so what passes is exactly what passed before.
 */
export function mayBeResponse(message: unknown): boolean {
  return typeof message === "object" && message !== null && ("result" in message || "error" in message);
}

export function hasMethod(message: unknown, method?: string): boolean {
  if (typeof message !== "object" || message === null || !("method" in message)) return false;
  return method === undefined || (message as { method: unknown }).method === method;
}

/** Request id → method, for the requests the SDK has taken on and not yet answered. */
export type Inflight = Map<string | number, string>;

/**
 * Error codes the 2025 revisions define where the SDK answers otherwise: an unknown resource is
 * -32002 (2026-07-28 moved it to -32602), and an invalid logging level is -32602 (invalid params),
 * not the SDK's -32603 with its validator's output.
 */
export function legacyError(message: JSONRPCErrorResponse, method: string | undefined): JSONRPCErrorResponse {
  const { code, data } = message.error;
  if (method === "resources/read" && code === -32602 && typeof (data as { uri?: unknown } | undefined)?.uri === "string") {
    return { ...message, error: { ...message.error, code: -32002 } };
  }
  if (method === "logging/setLevel" && code === -32603) {
    return { ...message, error: { code: -32602, message: `Invalid params: level must be one of ${[...LOG_LEVELS].join(", ")}` } };
  }
  return message;
}

export const LOG_LEVELS = new Set(["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]);
export const logLevelKey = (sessionId: string) => `mcp:log-level:${sessionId}`;

/** A GET without Last-Event-ID opens the standalone stream; one resuming it (re)opens it too. */
export function isStandaloneStream(lastEventId: string | null): boolean {
  return lastEventId === null || parseEventId(lastEventId)?.streamId === STANDALONE_STREAM;
}

/**
 * The SDK decides priming events (and whether a tool may close its stream early) from the request's
 * MCP-Protocol-Version, assuming 2025-03-26 without one. Within a session the negotiated version is
 * known, so a missing or different (but supported) header means that version; an unsupported one
 * is left for the SDK to refuse with 400.
 */
export function withNegotiatedVersion(request: Request, negotiated: string): Request {
  const header = request.headers.get("mcp-protocol-version") ?? DEFAULT_VERSION;
  if (header === negotiated || !SUPPORTED_PROTOCOL_VERSIONS.includes(header)) return request;
  const headers = new Headers(request.headers);
  headers.set("mcp-protocol-version", negotiated);
  // The body was already read and is passed to the SDK parsed.
  return new Request(request.url, { method: request.method, headers, signal: request.signal });
}
