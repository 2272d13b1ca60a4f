/**
 * Refusals of /mcp requests that would make it hold too much (README
 * "Limits"). Limits that a caller reaches by holding things (sessions,
 * streams, subscriptions) answer -32000, the code the SDK's transport uses
 * for its own refusals ("Conflict: Only one SSE stream…"); invalid input
 * answers -32602.
 */
import type { McpLimits } from "../config.js";

/** JSON-RPC 2.0 §5.1: implementation-defined server error, used for every "too many". */
export const LIMIT_EXCEEDED = -32000;
export const INVALID_PARAMS = -32602;

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
