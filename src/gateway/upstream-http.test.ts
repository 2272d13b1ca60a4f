/**
 * What an HTTP upstream receives from `Upstream`: each call's own caller in
 * the identity headers, even when calls of several users overlap on the one
 * client; the static headers on every request; an identity header name never
 * filled from the static headers; nothing of the private header that
 * names a call inside Gatehouse; and the caller still named on a request
 * that follows a redirect.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import { createMcpHandler, McpServer } from "@modelcontextprotocol/server";
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

describe("Upstream over Streamable HTTP, behind a redirect", () => {
  it("a call that follows a same-origin 307 still carries its caller, not Gatehouse's own identity", async () => {
    const handler = createMcpHandler((ctx) => {
      const server = new McpServer({ name: "moved", version: "1" });
      const user = ctx.requestInfo?.headers.get("x-gatehouse-user-id") ?? "nobody";
      server.registerTool("echo", { description: "Echoes.", inputSchema: z.object({ text: z.string() }) }, ({ text }) => ({
        content: [{ type: "text", text: `${text} for ${user}` }],
      }));
      return server;
    });
    const app = new Hono();
    app.all("/old", (c) => c.redirect("/mcp", 307));
    app.all("/mcp", (c) => handler.fetch(c.req.raw));
    const http = createAdaptorServer({ fetch: app.fetch }) as Server;
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", () => resolve()));
    const { port } = http.address() as AddressInfo;
    const [config] = parseGatewayConfig({ upstreams: [{ name: "moved", url: `http://127.0.0.1:${port}/old`, identityHeaders: { userId: "X-Gatehouse-User-Id" } }] });
    const moved = new Upstream(config!, silentLogger, systemClock);
    try {
      const result = await moved.callTool("echo", { text: "hi" }, { userId: "alice", email: "a@example.com", scopes: ["mcp"], clientId: "c" }, { signal: new AbortController().signal });
      expect(result.content).toEqual([{ type: "text", text: "hi for alice" }]);
    } finally {
      await moved.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });
});

describe("Upstream over Streamable HTTP, a list change raised during a call", () => {
  it("the refresh it starts belongs to no caller: what the upstream logs while listing never reaches that call's client", async () => {
    const handler = createMcpHandler(() => {
      const server = new McpServer({ name: "flipper", version: "1" }, { capabilities: { logging: {}, tools: { listChanged: true } } });
      server.registerTool("flip", { description: "Changes the list.", inputSchema: z.object({}) }, async (_args, ctx) => {
        await ctx.mcpReq.notify({ method: "notifications/tools/list_changed" });
        return { content: [{ type: "text", text: "flipped" }] };
      });
      // Logs while answering tools/list: a message of the listing request, which no caller made.
      type Handler = (request: unknown, ctx: { mcpReq: { notify(n: unknown): Promise<void> } }) => Promise<unknown>;
      const handlers = (server.server as unknown as { _requestHandlers: Map<string, Handler> })._requestHandlers;
      const list = handlers.get("tools/list")!;
      handlers.set("tools/list", async (request, ctx) => {
        await ctx.mcpReq.notify({ method: "notifications/message", params: { level: "info", data: "said while listing" } });
        return list(request, ctx);
      });
      return server;
    });
    const app = new Hono();
    app.all("/mcp", (c) => handler.fetch(c.req.raw));
    const http = createAdaptorServer({ fetch: app.fetch }) as Server;
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", () => resolve()));
    const { port } = http.address() as AddressInfo;
    const [config] = parseGatewayConfig({ upstreams: [{ name: "flipper", url: `http://127.0.0.1:${port}/mcp` }] });
    const flipper = new Upstream(config!, silentLogger, systemClock);
    try {
      await flipper.listTools();
      let refreshed!: () => void;
      const relisted = new Promise<void>((resolve) => (refreshed = resolve));
      flipper.onListChanged = () => void flipper.listTools().then(() => refreshed());
      const heard: unknown[] = [];
      const caller = { userId: "alice", email: "a@example.com", scopes: ["mcp"], clientId: "c" };
      const result = await flipper.callTool("flip", {}, caller, { signal: new AbortController().signal, onLog: (params) => heard.push(params.data) });
      expect(result.content).toEqual([{ type: "text", text: "flipped" }]);
      await relisted;
      expect(heard).toEqual([]);
    } finally {
      await flipper.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });
});
