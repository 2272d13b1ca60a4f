/**
 * An upstream's failure on a resource read or prompt get, as the JSON-RPC
 * error of that one call: the upstream's own error code when it answered
 * with one, an internal error otherwise (a crash, a timeout), the message
 * prefixed with the upstream's name as for tools.
 */
import { ProtocolError as UpstreamProtocolError } from "@modelcontextprotocol/client";
import { ProtocolError, ProtocolErrorCode } from "@modelcontextprotocol/server";

export function upstreamFailure(upstream: string, error: unknown): ProtocolError {
  const message = `upstream ${upstream}: ${(error as Error).message}`;
  return error instanceof UpstreamProtocolError ? new ProtocolError(error.code, message) : new ProtocolError(ProtocolErrorCode.InternalError, message);
}
