/**
 * The yardsticks Gatehouse is measured against, each on @hono/node-server on
 * loopback, none with auth: a bare Hono handler answering the same
 * `tools/call` result, the SDK's stateless reference (`createMcpHandler`,
 * one echo tool), and the SDK's session reference
 * (`WebStandardStreamableHTTPServerTransport` with sessions in memory).
 */
import { randomUUID } from "node:crypto";
import type http from "node:http";
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import { createMcpHandler, isInitializeRequest, McpServer, WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/server";
import { Hono } from "hono";
import { z } from "zod";

export interface Served {
  url: string;
  /** Live sessions (the session reference only). */
  sessions(): number;
  close(): Promise<void>;
}

async function serve(app: Hono, onClose: () => Promise<void> = async () => {}, sessions = () => 0): Promise<Served> {
  const server = createAdaptorServer({ fetch: app.fetch }) as http.Server;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    sessions,
    async close() {
      await onClose();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function sdkEchoServer(): McpServer {
  const server = new McpServer({ name: "bench-reference", version: "1.0.0" });
  server.registerTool("echo", { description: "Echoes its text.", inputSchema: z.object({ text: z.string() }) }, ({ text }) => ({
    content: [{ type: "text", text }],
  }));
  return server;
}

type CallBody = { id: number | string; params: { arguments: { text: string } } };

export function bareHono(): Promise<Served> {
  const app = new Hono();
  app.post("/mcp", async (c) => {
    const body = await c.req.json<CallBody>();
    return c.json({ jsonrpc: "2.0", id: body.id, result: { content: [{ type: "text", text: body.params.arguments.text }] } });
  });
  return serve(app);
}

export function sdkStateless(): Promise<Served> {
  const handler = createMcpHandler(() => sdkEchoServer());
  const app = new Hono();
  app.all("/mcp", (c) => handler.fetch(c.req.raw));
  return serve(app, () => handler.close());
}

export function sdkSessions(): Promise<Served> {
  const live = new Map<string, { server: McpServer; transport: WebStandardStreamableHTTPServerTransport }>();
  const app = new Hono();
  app.all("/mcp", async (c) => {
    const parsedBody: unknown = c.req.method === "POST" ? await c.req.json() : undefined;
    const sessionId = c.req.header("mcp-session-id");
    if (sessionId) {
      const session = live.get(sessionId);
      if (!session) return c.json({ jsonrpc: "2.0", error: { code: -32001, message: "Session not found" }, id: null }, 404);
      return session.transport.handleRequest(c.req.raw, { parsedBody });
    }
    if (!isInitializeRequest(parsedBody)) return c.json({ jsonrpc: "2.0", error: { code: -32000, message: "Mcp-Session-Id required" }, id: null }, 400);
    const server = sdkEchoServer();
    const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => void live.set(id, { server, transport }),
    });
    await server.connect(transport);
    return transport.handleRequest(c.req.raw, { parsedBody });
  });
  return serve(
    app,
    async () => {
      await Promise.all([...live.values()].map((s) => s.server.close().catch(() => {})));
      live.clear();
    },
    () => live.size,
  );
}
