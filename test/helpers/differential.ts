/**
 * Two Gatehouse servers that differ only in how 2026-07-28 requests are
 * dispatched — lean (the default) and `leanDispatch: false` (every request
 * through the SDK) — over one database and one public URL, so the same user,
 * client and token work on both. Requests go out as raw HTTP/1.1 (node:http),
 * so answers can be compared byte for byte.
 */
import http from "node:http";
import { startTestServer, type TestServer, type TestServerOptions } from "./server.js";

export interface ServerPair {
  /** The public URL both answer to (the lean server's own). */
  base: string;
  lean: TestServer;
  sdk: TestServer;
  close(): Promise<void>;
}

type GatehouseOptions = NonNullable<TestServerOptions["gatehouse"]>;

/** `gatehouse(side)` gives each side its tools and options; the SDK side gets `leanDispatch: false` on top. */
export async function startPair(gatehouse: (side: "lean" | "sdk") => GatehouseOptions): Promise<ServerPair> {
  const lean = await startTestServer("pglite", { gatehouse: gatehouse("lean") });
  const options = gatehouse("sdk");
  const sdk = await startTestServer("pglite", {
    testDb: lean.testDb,
    // The same database, which the lean server owns and closes.
    database: { ...lean.testDb.database, close: async () => {} },
    config: { publicUrl: lean.base },
    gatehouse: { ...options, server: { ...options.server, leanDispatch: false } },
  });
  return {
    base: lean.base,
    lean,
    sdk,
    async close() {
      await sdk.close();
      await lean.close();
    },
  };
}

export interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface RawRequest {
  headers: Record<string, string>;
  body: string;
}

const agent = new http.Agent({ keepAlive: true });

/**
 * POSTs to `/mcp` on `server` with the public Host (loopback servers check it), the body sent as given.
 * With `timeoutMs`, an answer that does not come in time is null (the request is abandoned).
 */
export function rawPost(server: TestServer, publicBase: string, request: RawRequest): Promise<RawAnswer>;
export function rawPost(server: TestServer, publicBase: string, request: RawRequest, timeoutMs: number): Promise<RawAnswer | null>;
export function rawPost(server: TestServer, publicBase: string, request: RawRequest, timeoutMs?: number): Promise<RawAnswer | null> {
  const payload = Buffer.from(request.body, "utf8");
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port: server.running.port,
        method: "POST",
        path: "/mcp",
        agent,
        headers: { ...request.headers, host: new URL(publicBase).host, "content-length": String(payload.length) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (timeoutMs !== undefined) {
      req.setTimeout(timeoutMs, () => {
        req.destroy();
        resolve(null);
      });
    }
    req.end(payload);
  });
}

/** The parts of an answer a client sees: status, the headers that carry meaning, and the body bytes. */
export function visible(answer: RawAnswer): { status: number; headers: Record<string, string | undefined>; body: string } {
  const pick = (name: string) => {
    const value = answer.headers[name];
    return Array.isArray(value) ? value.join(", ") : value;
  };
  return {
    status: answer.status,
    headers: Object.fromEntries(
      ["content-type", "www-authenticate", "cache-control", "mcp-session-id", "content-length", "transfer-encoding"].map((name) => [name, pick(name)]),
    ),
    body: answer.body,
  };
}
