/**
 * What an HTTP upstream receives from `Upstream`: each call's own caller in
 * the identity headers, even when calls of several users overlap on the one
 * client; the static headers on every request; an identity header name never
 * filled from the static headers; and nothing of the private header that
 * names a call inside Gatehouse. An upstream offering 2026-07-28 is called
 * on it; a 2025-only one still works on 2025-11-25.
 */
import { randomUUID } from "node:crypto";
import type http from "node:http";
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import { isInitializeRequest, McpServer, WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/server";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { systemClock } from "../clock.js";
import { silentLogger } from "../logger.js";
import { startHttpUpstream, type HttpUpstream } from "../../test/fixtures/upstream-http.js";
import { parseGatewayConfig } from "./config.js";
import { Upstream } from "./upstream.js";

let server: HttpUpstream;
let upstream: Upstream;

beforeAll(async () => {
  server = await startHttpUpstream();
  const [config] = parseGatewayConfig({
    upstreams: [
      {
        name: "remote",
        url: server.url,
        // A static header under an identity header's name is the caller's or nothing, never this value.
        headers: { "X-Upstream-Key": "static-key", "X-Gatehouse-User-Id": "spoofed" },
        identityHeaders: { userId: "X-Gatehouse-User-Id", email: "X-Gatehouse-Email", scopes: "X-Gatehouse-Scopes", clientId: "X-Gatehouse-Client" },
      },
    ],
  });
  upstream = new Upstream(config!, silentLogger, systemClock);
  await upstream.listTools();
});

afterAll(async () => {
  await upstream?.close();
  await server?.close();
});

describe("Upstream over Streamable HTTP", () => {
  it("sends each call its caller's identity headers, the static headers, and no internal header", async () => {
    const callers = Array.from({ length: 8 }, (_, i) => ({ userId: `u${i % 3}`, email: `u${i % 3}@example.com`, scopes: ["mcp", `s${i}`], clientId: `c${i}` }));
    const results = await Promise.all(
      callers.map((caller, i) => upstream.callTool("echo", { text: String(i) }, caller, { signal: new AbortController().signal })),
    );
    results.forEach((result, i) => expect(result.content).toEqual([{ type: "text", text: `remote echo: ${i} (for ${callers[i]!.userId})` }]));
    const calls = server.received.filter((headers) => headers.get("x-gatehouse-client") !== null);
    expect(calls).toHaveLength(callers.length);
    for (const headers of calls) {
      const caller = callers.find((c) => c.clientId === headers.get("x-gatehouse-client"))!;
      expect(headers.get("x-gatehouse-user-id")).toBe(caller.userId);
      expect(headers.get("x-gatehouse-email")).toBe(caller.email);
      expect(headers.get("x-gatehouse-scopes")).toBe(caller.scopes.join(" "));
    }
    for (const headers of server.received) {
      expect(headers.get("x-upstream-key")).toBe("static-key");
      expect(headers.get("x-gatehouse-user-id")).not.toBe("spoofed");
      expect([...headers.keys()].filter((name) => name.includes("internal"))).toEqual([]);
    }
    // Gatehouse's own requests (the handshake, listing tools) name nobody.
    expect(server.received[0]!.get("x-gatehouse-user-id")).toBeNull();
  });
});

describe("Upstream protocol generation over Streamable HTTP", () => {
  it("calls an upstream that offers 2026-07-28 on it, and one that only speaks 2025 on 2025-11-25", async () => {
    const calls = server.received.filter((headers) => headers.get("mcp-method") === "tools/call");
    expect(calls.length).toBeGreaterThan(0);
    for (const headers of calls) expect(headers.get("mcp-protocol-version")).toBe("2026-07-28");

    const legacy = await startLegacyUpstream();
    const [config] = parseGatewayConfig({ upstreams: [{ name: "old", url: legacy.url, identityHeaders: { userId: "X-User" } }] });
    const old = new Upstream(config!, silentLogger, systemClock);
    try {
      expect((await old.listTools()).map((tool) => tool.name)).toEqual(["echo"]);
      const caller = { userId: "u1", email: "u1@example.com", scopes: ["mcp"], clientId: "c1" };
      const result = await old.callTool("echo", { text: "hi" }, caller, { signal: new AbortController().signal });
      expect(result.content).toEqual([{ type: "text", text: "old echo: hi" }]);
      expect(legacy.seen.at(-1)).toEqual({ version: "2025-11-25", user: "u1" });
    } finally {
      await old.close();
      await legacy.close();
    }
  });
});

/** A 2025-only Streamable HTTP server (sessions, no server/discover), as many deployed servers are. */
async function startLegacyUpstream(): Promise<{ url: string; seen: { version?: string; user?: string }[]; close(): Promise<void> }> {
  const seen: { version?: string; user?: string }[] = [];
  const live = new Map<string, WebStandardStreamableHTTPServerTransport>();
  const app = new Hono();
  app.all("/mcp", async (c) => {
    seen.push({ version: c.req.header("mcp-protocol-version"), user: c.req.header("x-user") });
    const parsedBody: unknown = c.req.method === "POST" ? await c.req.json() : undefined;
    const session = c.req.header("mcp-session-id");
    const existing = session ? live.get(session) : undefined;
    if (existing) return existing.handleRequest(c.req.raw, { parsedBody });
    if (!isInitializeRequest(parsedBody)) return c.json({ jsonrpc: "2.0", error: { code: -32000, message: "Bad Request: no session" }, id: null }, 400);
    const mcp = new McpServer({ name: "legacy", version: "1.0.0" });
    mcp.registerTool("echo", { description: "Echoes.", inputSchema: z.object({ text: z.string() }) }, ({ text }) => ({ content: [{ type: "text", text: `old echo: ${text}` }] }));
    const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => void live.set(id, transport),
    });
    await mcp.connect(transport);
    return transport.handleRequest(c.req.raw, { parsedBody });
  });
  const httpServer = createAdaptorServer({ fetch: app.fetch }) as http.Server;
  await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", () => resolve()));
  return {
    url: `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}/mcp`,
    seen,
    async close() {
      for (const transport of live.values()) await transport.close().catch(() => {});
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    },
  };
}
