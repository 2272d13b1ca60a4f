/**
 * Server-to-client requests relayed (README "Gateway"): an upstream that
 * asks for sampling (`sampling/createMessage`) or elicitation
 * (`elicitation/create`) during a call asks that call's own client, through
 * the session's SDK server. A client that cannot be asked (it declared no such
 * capability, or speaks 2026-07-28, where a server asks through the result
 * instead) gets the upstream an error, never an answer made up here.
 */
import { ProtocolError, ProtocolErrorCode, type ClientCapabilities, type ServerContext } from "@modelcontextprotocol/server";
import type { McpContext } from "../mcp/define.js";

export type ClientRequest =
  | { method: "sampling/createMessage"; params: Parameters<ServerContext["mcpReq"]["requestSampling"]>[0] }
  | { method: "elicitation/create"; params: Parameters<ServerContext["mcpReq"]["elicitInput"]>[0] };

export const RELAYED_REQUESTS = ["sampling/createMessage", "elicitation/create"] as const;

/** Asks the caller's client on the upstream's behalf. */
export async function askCaller(ctx: McpContext, request: ClientRequest): Promise<unknown> {
  // MCP (2025-11-25 lifecycle): a server must not send a request for a capability the client did not
  // declare. The SDK checks elicitation but not sampling, so the declared capabilities decide here first.
  if (!declares(ctx.client.capabilities, request)) throw cannotAnswer(request.method);
  try {
    const sdk = ctx.sdk;
    return request.method === "sampling/createMessage" ? await sdk.mcpReq.requestSampling(request.params) : await sdk.mcpReq.elicitInput(request.params);
  } catch (error) {
    // The client's own refusal goes back as it came.
    if (error instanceof ProtocolError) throw error;
    // The SDK would not ask (not on this protocol generation, or its own capability check): say so, without its text.
    throw cannotAnswer(request.method);
  }
}

/**
 * Whether the client declared what the request needs (MCP 2025-11-25): `sampling`, and `sampling.tools`
 * for a request offering tools; `elicitation.url` for URL mode, and for form mode `elicitation.form` or an
 * `elicitation` naming neither mode (the pre-mode declaration, which means form).
 */
function declares(capabilities: ClientCapabilities, request: ClientRequest): boolean {
  if (request.method === "sampling/createMessage") {
    const sampling = capabilities.sampling as { tools?: object } | undefined;
    if (sampling === undefined) return false;
    return !(request.params.tools || request.params.toolChoice) || sampling.tools !== undefined;
  }
  const elicitation = capabilities.elicitation as { form?: object; url?: object } | undefined;
  if (elicitation === undefined) return false;
  if (request.params.mode === "url") return elicitation.url !== undefined;
  return elicitation.form !== undefined || elicitation.url === undefined;
}

function cannotAnswer(method: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidRequest, `the calling client cannot answer ${method}`);
}

/** What an upstream asking outside any call gets: there is nobody to ask. */
export function nobodyToAsk(method: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidRequest, `${method} is relayed only during a call, from an HTTP upstream`);
}
