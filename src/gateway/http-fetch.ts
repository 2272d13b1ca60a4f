/**
 * The `fetch` an HTTP upstream's MCP client sends with: node:http(s) over a
 * keep-alive agent instead of the global fetch. A proxied call is one small
 * POST and one small answer; undici's fetch wraps each in web streams and
 * costs several hundred µs of CPU more per call than node:http does on the
 * same warm connection — more than all the rest Gatehouse adds to a call.
 *
 * It keeps to what the SDK's Streamable HTTP transport needs of fetch: the
 * method, headers, a string body and an abort signal; an SSE answer arrives
 * as a stream, anything else (JSON, an error page) whole. Redirects are not
 * followed: the transport asks for `redirect: "manual"` and decides itself
 * (same-origin only). No `accept-encoding` is sent, so answers come
 * uncompressed. Errors reject as fetch's do: the abort reason, or a
 * `TypeError("fetch failed")` with the cause.
 */
import { defaultMaxListeners, getMaxListeners, setMaxListeners } from "node:events";
import http from "node:http";
import https from "node:https";
import { Readable } from "node:stream";
import type { FetchLike } from "@modelcontextprotocol/client";

/** Statuses whose Response may not have a body. */
const NULL_BODY = new Set([204, 205, 304]);

export interface KeepAliveFetch {
  fetch: FetchLike;
  /** Closes the idle connections (shutdown). */
  close(): void;
}

function requestHeaders(init: RequestInit | undefined, body: string | undefined): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  new Headers(init?.headers).forEach((value, name) => {
    out[name] = value;
  });
  if (body !== undefined) out["content-length"] = Buffer.byteLength(body);
  return out;
}

function responseHeaders(res: http.IncomingMessage): Headers {
  const headers = new Headers();
  const raw = res.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  return headers;
}

function isEventStream(res: http.IncomingMessage): boolean {
  return /^text\/event-stream\b/i.test(res.headers["content-type"] ?? "");
}

export function keepAliveFetch(): KeepAliveFetch {
  // LIFO hands out the most recently used socket, the one least likely to have been closed by the server.
  const agents = { "http:": new http.Agent({ keepAlive: true, scheduling: "lifo" }), "https:": new https.Agent({ keepAlive: true, scheduling: "lifo" }) };
  const send = (input: string | URL, init?: RequestInit): Promise<Response> => {
    const url = typeof input === "string" ? new URL(input) : input;
    const signal = init?.signal ?? undefined;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (init?.body !== undefined && init.body !== null && typeof init.body !== "string") {
      return Promise.reject(new TypeError("this fetch sends only string bodies"));
    }
    const body = init?.body ?? undefined;
    const protocol = url.protocol === "https:" ? "https:" : "http:";
    const request = (protocol === "https:" ? https : http).request;
    return new Promise<Response>((resolve, reject) => {
      const req = request(url, { method: init?.method ?? "GET", headers: requestHeaders(init, body), agent: agents[protocol] });
      const onAbort = () => req.destroy(signal?.reason as Error);
      // The transport may hand every request one shared signal: concurrent calls each listen on it (as undici's fetch does).
      if (signal && getMaxListeners(signal) === defaultMaxListeners) setMaxListeners(1500, signal);
      signal?.addEventListener("abort", onAbort, { once: true });
      const done = () => signal?.removeEventListener("abort", onAbort);
      req.on("error", (error) => {
        done();
        reject(signal?.aborted ? signal.reason : new TypeError("fetch failed", { cause: error }));
      });
      /** Whatever goes wrong building the Response becomes this request's failure, never an uncaught throw. */
      const answer = (make: () => Response) => {
        try {
          resolve(make());
        } catch (error) {
          done();
          reject(new TypeError("fetch failed", { cause: error }));
        }
      };
      req.on("response", (res) => {
        const status = res.statusCode ?? 0;
        const init = { status, statusText: res.statusMessage ?? "", headers: responseHeaders(res) };
        // Node's parser takes any three digits; a Response cannot hold a status outside 200-599 (and a throw
        // here, in an event listener, would take the process down).
        if (status < 200 || status > 599) {
          req.destroy();
          done();
          reject(new TypeError("fetch failed", { cause: new Error(`unexpected HTTP ${status}`) }));
          return;
        }
        if (NULL_BODY.has(status)) {
          res.on("close", done);
          res.resume();
          answer(() => new Response(null, init));
          return;
        }
        if (isEventStream(res)) {
          // An SSE answer (progress before the result) or listening stream: read as it comes.
          res.on("close", done);
          answer(() => new Response(Readable.toWeb(res) as ReadableStream<Uint8Array>, init));
          return;
        }
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", (error) => {
          done();
          reject(signal?.aborted ? signal.reason : new TypeError("fetch failed", { cause: error }));
        });
        res.on("end", () => {
          done();
          answer(() => new Response(Buffer.concat(chunks), init));
        });
      });
      req.end(body);
    });
  };
  return {
    fetch: send as FetchLike,
    close() {
      agents["http:"].destroy();
      agents["https:"].destroy();
    },
  };
}
