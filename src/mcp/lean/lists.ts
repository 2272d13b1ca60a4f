/**
 * `server/discover` and the list methods answer the same result to every
 * request (the SDK's list handlers ignore the request, and the definitions,
 * capabilities and identity change only when a gateway upstream's lists do:
 * then the dispatch starts a new `LearnedLists`). So the
 * first one of each is served by the SDK, its result kept as the JSON text the
 * SDK wrote, and later ones get those bytes under their own id. Only a clean
 * success is kept; an error (e.g. -32601 where nothing is registered) keeps
 * going to the SDK.
 */
import { serializedResultResponse } from "./encode.js";
import { isPlainObject, type LeanRequest } from "./request.js";

export class LearnedLists {
  private readonly results = new Map<string, string>();

  answer(request: LeanRequest, viaSdk: () => Promise<Response>): Promise<Response> {
    const known = this.results.get(request.method);
    if (known !== undefined) return Promise.resolve(serializedResultResponse(request.id, known));
    return this.learn(request, viaSdk);
  }

  private async learn(request: LeanRequest, viaSdk: () => Promise<Response>): Promise<Response> {
    const response = await viaSdk();
    if (response.status !== 200 || response.headers.get("content-type") !== "application/json") return response;
    const text = await response.text();
    const message = JSON.parse(text) as { result?: unknown; id?: unknown };
    // JSON.stringify(JSON.parse(s)) is s for text JSON.stringify wrote, so the kept bytes are the SDK's.
    if (isPlainObject(message.result) && message.id === request.id) this.results.set(request.method, JSON.stringify(message.result));
    return new Response(text, { status: response.status, headers: response.headers });
  }
}
