/**
 * Server-to-client requests relayed (README "Gateway"): an upstream that
 * asks for sampling (`sampling/createMessage`) or elicitation
 * (`elicitation/create`) during a call asks that call's own client, through
 * the session's SDK server — so the client's declared capabilities decide,
 * as for our own tools. A client that cannot be asked (it declared no such
 * capability, or speaks 2026-07-28, where a server asks through the result
 * instead) gets the upstream an error, never an answer made up here.
 */
import { ProtocolError, ProtocolErrorCode, type ServerContext } from "@modelcontextprotocol/server";

export type ClientRequest =
  | { method: "sampling/createMessage"; params: Parameters<ServerContext["mcpReq"]["requestSampling"]>[0] }
  | { method: "elicitation/create"; params: Parameters<ServerContext["mcpReq"]["elicitInput"]>[0] };

export const RELAYED_REQUESTS = ["sampling/createMessage", "elicitation/create"] as const;

/** Asks the caller's client on the upstream's behalf. */
export async function askCaller(sdk: ServerContext, request: ClientRequest): Promise<unknown> {
  try {
    return request.method === "sampling/createMessage" ? await sdk.mcpReq.requestSampling(request.params) : await sdk.mcpReq.elicitInput(request.params);
  } catch (error) {
    // The client's own refusal goes back as it came.
    if (error instanceof ProtocolError) throw error;
    // The SDK would not ask (no such capability declared, or not on this protocol generation): say so, without its text.
    throw new ProtocolError(ProtocolErrorCode.InvalidRequest, `the calling client cannot answer ${request.method}`);
  }
}

/** What an upstream asking outside any call gets: there is nobody to ask. */
export function nobodyToAsk(method: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidRequest, `${method} is relayed only during a call, from an HTTP upstream`);
}
