/**
 * toNodeHandler: Gatehouse as a Node `(req, res, next?)` handler, for Express
 * and other Node frameworks (README "Embedding"). It is @hono/node-server's
 * getRequestListener — the adapter `startServer` listens with — plus two things
 * a host app needs:
 *
 * - a body its parsers already read (`express.json()`, `express.urlencoded()`
 *   mounted first) is rebuilt (consumed-body.ts) and handed on with its true
 *   length, so Gatehouse's own caps still apply to it. One that cannot be
 *   rebuilt fails with 400 `invalid_request`, only if a Gatehouse route reads it;
 * - a request no Gatehouse route serves, or whose URL it cannot build, goes
 *   on to `next()` (the host's own routes) instead of a 404 or 400; without
 *   `next` those are sent.
 *
 * The request URL is built as for the standalone server (Host header, socket
 * scheme; never X-Forwarded-*): Gatehouse's own URLs come from
 * GATEHOUSE_PUBLIC_URL, client addresses from the socket or, with
 * GATEHOUSE_TRUST_PROXY, X-Forwarded-For. Express's `trust proxy` plays no part.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { getRequestListener, RequestError, type HttpBindings } from "@hono/node-server";
import { ApiError } from "../errors.js";
import { bodyWasConsumed, rebuildBody, type ParsedIncoming } from "./consumed-body.js";
import { askUnrouted, wasUnrouted } from "./unrouted.js";

/** What `toNodeHandler` needs of Gatehouse: its app (`gatehouse.app`). */
export interface FetchApp {
  fetch(request: Request, env: HttpBindings): Response | Promise<Response>;
}

export type NodeNext = (error?: unknown) => void;

/** An Express-compatible middleware: `app.use(toNodeHandler(gatehouse))`. */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse, next?: NodeNext) => Promise<void>;

/** Thrown out of the fetch callback so the listener writes nothing: the host answers instead. */
class FallThrough extends Error {
  constructor(readonly next: NodeNext) {
    super("not a Gatehouse route");
  }
}

const NO_REBUILD_HEADERS = ["content-length", "transfer-encoding", "content-encoding"];

export function toNodeHandler(gatehouse: { app: FetchApp }): NodeHandler {
  const alone = listen(gatehouse.app, undefined);
  return (req, res, next) => (next ? listen(gatehouse.app, next) : alone)(req, res);
}

function listen(app: FetchApp, next: NodeNext | undefined) {
  return getRequestListener(
    async (request, bindings) => {
      const env = bindings as HttpBindings;
      const response = await app.fetch(withBody(request, env.incoming), next ? askUnrouted(env) : env);
      if (next && wasUnrouted(env)) throw new FallThrough(next);
      return response;
    },
    {
      // Returning nothing tells the listener the response is someone else's. A request whose URL it
      // cannot build (no Host, as from HTTP/1.0 health checkers) is none of Gatehouse's either: the host
      // app decides, as it would without Gatehouse. Alone, the listener's own answers: 400, else 500.
      errorHandler(error) {
        if (error instanceof FallThrough) return error.next();
        if (next && error instanceof RequestError) return next();
        return new Response(null, { status: error instanceof RequestError ? 400 : 500 });
      },
    },
  );
}

/** The request as Gatehouse should see it: untouched (lazy, streamed) unless a parser already read its body. */
function withBody(request: Request, incoming: ParsedIncoming): Request {
  if (request.method === "GET" || request.method === "HEAD" || !bodyWasConsumed(incoming)) return request;
  const bytes = rebuildBody(incoming);
  const headers = new Headers(request.headers);
  // The parser decoded any Content-Encoding; the length is the rebuilt body's.
  for (const name of NO_REBUILD_HEADERS) headers.delete(name);
  if (bytes) headers.set("content-length", String(bytes.byteLength));
  const body = bytes ?? unreadable();
  return new Request(request.url, { method: request.method, headers, body, signal: request.signal, ...(bytes ? {} : { duplex: "half" }) } as RequestInit);
}

/** A body that fails when read: the error reaches the client only from a route that reads it. */
function unreadable(): ReadableStream<Uint8Array> {
  return new ReadableStream({
    pull(controller) {
      controller.error(new ApiError(400, "invalid_request", "The request body was read by another handler before Gatehouse and cannot be passed on."));
    },
  });
}
