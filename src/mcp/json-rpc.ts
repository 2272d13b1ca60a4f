/**
 * A JSON-RPC error answered before any MCP server sees the request (transport-level refusals): `id: null`
 * unless the one request it answers is known.
 */
export function jsonRpcError(status: number, code: number, message: string, id: string | number | null = null): Response {
  return Response.json({ jsonrpc: "2.0", error: { code, message }, id }, { status });
}
