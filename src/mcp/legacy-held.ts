/**
 * A 2025 session call answered as one JSON object when nothing would be
 * resumed from its stream. MCP 2025-11-25 (transports §Sending Messages to
 * the Server): a server answers a request with either `application/json` or
 * `text/event-stream`, and the client must accept both. The SDK's session
 * transport picks once per transport (`enableJsonResponse`), before the call
 * runs; here the call decides. Its answer is held: when the call answers
 * before it sends any message of its own (progress, log, a sampling or
 * elicitation request) the answer goes out as JSON — no event written, no
 * stream kept. Its first message, its handler closing the stream
 * (`closeSSE`), or `HOLD_MS` without an answer switches it to the SSE stream
 * the SDK would have opened from the start, priming event first, so a long
 * call or one that talks stays resumable (SPEC-CHECKLIST RES-*) exactly as
 * before. Whatever this does not take (batches, initialize, GET, DELETE,
 * posted responses) goes to the SDK's `handleRequest` unchanged.
 *
 * Like legacy-live.ts, this reaches into the SDK transport's stream tables
 * (it has no API to open a request's stream later); the session and resume
 * tests fail loudly if an SDK upgrade changes them.
 */
import { randomUUID } from "node:crypto";
import {
  isJSONRPCRequest,
  parseJSONRPCMessage,
  type AuthInfo,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type WebStandardStreamableHTTPServerTransport,
} from "@modelcontextprotocol/server";
import type { KvEventStore } from "./event-store.js";
import { hasMethod } from "./legacy-protocol.js";

/**
 * How long an answer is held before the call gets its resumable stream anyway. A quick call answers
 * well within it; past it, a dropped connection must not lose the call (the priming event gives the
 * client an id to resume from), and it is still far below the 1 s a client waits before reconnecting.
 */
export const HOLD_MS = 100;

type RequestId = string | number;
type Transport = WebStandardStreamableHTTPServerTransport;
type Encoder = InstanceType<typeof TextEncoder>;

/** The transport's own tables and helpers used to open a request's stream as `handlePostRequest` does (SDK 2.4). */
interface TransportInternals {
  _closed: boolean;
  _supportedProtocolVersions: string[];
  _streamMapping: Map<string, { controller?: ReadableStreamDefaultController<Uint8Array>; encoder?: Encoder; cleanup(): void }>;
  _requestToStreamMapping: Map<RequestId, string>;
  _retryInterval: number | undefined;
  _checkScopeChallenge(messages: JSONRPCMessage[], authInfo: AuthInfo | undefined): Promise<Response | undefined>;
  startKeepAlive(controller: ReadableStreamDefaultController<Uint8Array>, encoder: Encoder): ReturnType<typeof setInterval> | undefined;
  supportsEmptySSEData(protocolVersion: string): boolean;
}

interface Held {
  id: RequestId;
  version: string;
  resolve(response: Response): void;
  timer: NodeJS.Timeout;
}

const SSE_HEADERS = { "Content-Type": "text/event-stream", "Cache-Control": "no-cache, no-transform", Connection: "keep-alive", "X-Accel-Buffering": "no" };

/** The requests of one live session whose answers are held. */
export class HeldCalls {
  private readonly held = new Map<RequestId, Held>();
  private readonly internals: TransportInternals;

  constructor(
    private readonly transport: Transport,
    private readonly events: KvEventStore,
  ) {
    this.internals = transport as unknown as TransportInternals;
  }

  /**
   * The answer to a POST carrying one request, or undefined to leave the POST to the SDK. What the SDK
   * checks before it opens a stream is checked here the same way, in its order; the request then goes to
   * the session's server as the SDK would pass it.
   */
  async serve(request: Request, body: unknown, authInfo: AuthInfo): Promise<Response | undefined> {
    const accept = request.headers.get("accept");
    const t = this.internals;
    if (!accept?.includes("application/json") || !accept.includes("text/event-stream") || t._closed) return undefined;
    const version = request.headers.get("mcp-protocol-version");
    if (version === null || !t._supportedProtocolVersions.includes(version)) return undefined;
    let message: JSONRPCMessage;
    try {
      message = parseJSONRPCMessage(body);
    } catch {
      return undefined;
    }
    // initialize within a session is the SDK's to refuse.
    if (hasMethod(message, "initialize") || !isJSONRPCRequest(message) || this.held.has(message.id) || t._requestToStreamMapping.has(message.id)) {
      return undefined;
    }
    let challenge: Response | undefined;
    try {
      challenge = await t._checkScopeChallenge([message], authInfo);
    } catch {
      return undefined; // the SDK path answers this with its 500
    }
    if (challenge) return challenge;
    if (t._closed) return undefined;
    return this.hold(message, version, request, authInfo);
  }

  private hold(message: JSONRPCRequest, version: string, request: Request, authInfo: AuthInfo): Promise<Response> {
    const { id } = message;
    const resumable = this.internals.supportsEmptySSEData(version);
    return new Promise<Response>((resolve) => {
      const held: Held = { id, version, resolve, timer: setTimeout(() => this.toStream(id), HOLD_MS) };
      held.timer.unref();
      this.held.set(id, held);
      this.transport.onmessage?.(message, {
        authInfo,
        request,
        ...(resumable && {
          closeSSEStream: () => {
            this.toStream(id);
            this.transport.closeSSEStream(id);
          },
          closeStandaloneSSEStream: () => this.transport.closeStandaloneSSEStream(),
        }),
      });
    });
  }

  /**
   * Called for every message the session sends, before the SDK's `send`, with the request it answers or
   * belongs to: true when it was a held call's answer, now sent as JSON. A held call's own message first
   * opens its stream (and the SDK then sends it there).
   */
  intercept(message: JSONRPCMessage, requestId: RequestId | undefined, isAnswer: boolean): boolean {
    if (this.held.size === 0 || requestId === undefined) return false;
    const held = this.held.get(requestId);
    if (!held) return false;
    if (!isAnswer) {
      this.toStream(held.id);
      return false;
    }
    this.held.delete(held.id);
    clearTimeout(held.timer);
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (this.transport.sessionId !== undefined) headers["mcp-session-id"] = this.transport.sessionId;
    held.resolve(new Response(JSON.stringify(message), { status: 200, headers }));
    return true;
  }

  /** The transport is closing: held calls get the streams the SDK then ends, as it ends every open one. */
  closeAll(): void {
    for (const id of [...this.held.keys()]) this.toStream(id);
  }

  /** Opens the call's stream as `handlePostRequest` does, with the priming event, and answers the POST with it. */
  private toStream(id: RequestId): void {
    const held = this.held.get(id);
    if (!held) return;
    this.held.delete(id);
    clearTimeout(held.timer);
    const t = this.internals;
    const streamId = randomUUID();
    const encoder = new TextEncoder();
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const readable = new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
      },
      cancel: () => {
        if (keepAlive !== undefined) clearInterval(keepAlive);
        if (t._streamMapping.get(streamId)?.controller === controller) t._streamMapping.delete(streamId);
      },
    });
    // Read only by the closures above and below, which run after this line.
    const keepAlive = t.startKeepAlive(controller, encoder);
    t._streamMapping.set(streamId, {
      controller,
      encoder,
      cleanup: () => {
        if (keepAlive !== undefined) clearInterval(keepAlive);
        t._streamMapping.delete(streamId);
        try {
          controller.close();
        } catch {
          // already closed
        }
      },
    });
    t._requestToStreamMapping.set(id, streamId);
    if (t.supportsEmptySSEData(held.version)) {
      const primingId = this.events.storePriming(streamId);
      const retry = t._retryInterval === undefined ? "" : `retry: ${t._retryInterval}\n`;
      controller.enqueue(encoder.encode(`id: ${primingId}\n${retry}data: \n\n`));
    }
    const headers: Record<string, string> = { ...SSE_HEADERS };
    if (this.transport.sessionId !== undefined) headers["mcp-session-id"] = this.transport.sessionId;
    held.resolve(new Response(readable, { status: 200, headers }));
  }
}
