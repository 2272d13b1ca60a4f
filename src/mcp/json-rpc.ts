/** A JSON-RPC error answered before any MCP server sees the request (transport-level refusals), `id: null`. */
export function jsonRpcError(status: number, code: number, message: string): Response {
  return Response.json({ jsonrpc: "2.0", error: { code, message }, id: null }, { status });
}
