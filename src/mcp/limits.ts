/**
 * Refusals for input that /mcp would otherwise echo back or store. The SDK
 * repeats some request fields verbatim in its errors ("Tool <name> not
 * found", "Resource <uri> not found", the 2026-07-28 header/body mismatch
 * and unsupported-version errors), and a 2025 session stores every error it
 * sends as a replayable event: a 1 MB tool name would come back 1 MB long
 * and be kept for an hour. Over-long fields are refused here, on both
 * protocol paths, before any SDK server sees the request; the refusal quotes
 * only the start of what it refuses.
 *
 * Limits that a caller reaches by holding things (sessions, streams,
 * subscriptions) answer -32000, the code the SDK's transport uses for its own
 * refusals ("Conflict: Only one SSE stream…"); invalid input answers -32602.
 */
import type { McpLimits } from "../config.js";
import { jsonRpcError } from "./json-rpc.js";

/** JSON-RPC 2.0 §5.1: implementation-defined server error, used for every "too many". */
export const LIMIT_EXCEEDED = -32000;
export const INVALID_PARAMS = -32602;
export const INVALID_REQUEST = -32600;

/** How much of a refused value an error quotes. */
const QUOTED_CHARS = 40;

/** The start of `text`, with an ellipsis when it was cut: what an error may repeat of a caller's value. */
export function clip(text: string, max = QUOTED_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

type Fields = Record<string, unknown>;

function field(value: unknown, key: string): unknown {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Fields)[key] : undefined;
}

/**
 * Where the SDK takes a string it may quote back: [path, value, limit]. `_meta` carries the 2026-07-28
 * protocol version (quoted when unsupported); `ref` is `completion/complete`'s prompt or resource template.
 */
function echoed(message: unknown, limits: McpLimits): [string, unknown, number][] {
  const params = field(message, "params");
  const ref = field(params, "ref");
  return [
    ["method", field(message, "method"), limits.maxNameChars],
    ["params.name", field(params, "name"), limits.maxNameChars],
    ["params.taskId", field(params, "taskId"), limits.maxNameChars],
    ["params.protocolVersion", field(params, "protocolVersion"), limits.maxNameChars],
    ["params._meta protocol version", field(field(params, "_meta"), "io.modelcontextprotocol/protocolVersion"), limits.maxNameChars],
    ["params.ref.name", field(ref, "name"), limits.maxNameChars],
    ["params.uri", field(params, "uri"), limits.maxUriChars],
    ["params.ref.uri", field(ref, "uri"), limits.maxUriChars],
  ];
}

/** Why one JSON-RPC message is refused (an over-long method makes it an invalid request), or null. */
function overlong(message: unknown, limits: McpLimits): { code: number; message: string } | null {
  for (const [path, value, max] of echoed(message, limits)) {
    if (typeof value !== "string" || value.length <= max) continue;
    const [code, kind] = path === "method" ? [INVALID_REQUEST, "Invalid Request"] : [INVALID_PARAMS, "Invalid params"];
    return { code, message: `${kind}: ${path} is longer than ${max} characters ("${clip(value)}")` };
  }
  return null;
}

/**
 * A refusal for a body holding an over-long name, method or URI; null when there is none. A single
 * request gets an in-band error with its id (HTTP 200, as the SDK answers "Tool … not found"); a
 * notification or a batch (2025-03-26) has no one id to answer, so it gets 400 with `id: null`.
 */
export function refuseOverlong(body: unknown, limits: McpLimits): Response | null {
  const messages = Array.isArray(body) ? body : [body];
  for (const message of messages) {
    const error = overlong(message, limits);
    if (error === null) continue;
    const id = field(message, "id");
    if (!Array.isArray(body) && (typeof id === "string" || typeof id === "number")) return Response.json({ jsonrpc: "2.0", id, error });
    return jsonRpcError(400, error.code, error.message);
  }
  return null;
}

/**
 * An `initialize` whose `clientInfo` and `capabilities` are too large to keep: they are stored with the
 * session and replayed into every rebuild of it, on any node. Refused in-band (-32602), nothing stored.
 */
export function clientInfoError(init: { id?: string | number; params: Record<string, unknown> }, limits: McpLimits): Response | null {
  const stored = JSON.stringify({ clientInfo: init.params.clientInfo ?? {}, capabilities: init.params.capabilities ?? {} });
  const bytes = Buffer.byteLength(stored);
  if (bytes <= limits.maxClientInfoBytes) return null;
  const message = `Invalid params: clientInfo and capabilities take ${bytes} bytes; a session keeps at most ${limits.maxClientInfoBytes}`;
  return Response.json({ jsonrpc: "2.0", id: init.id ?? null, error: { code: INVALID_PARAMS, message } });
}
