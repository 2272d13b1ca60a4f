/**
 * Server-to-client requests through the gateway (issue 12 "Proxying"): an
 * HTTP upstream that keeps sessions (test/fixtures/upstream-http-session.ts)
 * asks, during a call, for sampling (`sampling/createMessage`) and
 * elicitation (`elicitation/create`). Gatehouse puts each request to that
 * call's own client: a 2025 session client that declared the capability
 * answers it (`@modelcontextprotocol/sdk` 1.x and `@modelcontextprotocol/client`
 * 2.x); one that did not, or a 2026-07-28 client, gets the upstream an error,
 * which the upstream's tool reports. The fixture asks on the call's own
 * response stream, where Gatehouse can tell which call is asking.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from "@modelcontextprotocol/client";
import { Client as LegacyClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as LegacyTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CreateMessageRequestSchema, ElicitRequestSchema, ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSessionUpstream, type SessionUpstream } from "../fixtures/upstream-http-session.js";
import { drivers } from "../helpers/databases.js";
import { addSignedInUser, grant, type Grant } from "../helpers/mcp-fixtures.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

interface ToolResult {
  content?: { type: string; text?: string }[];
  isError?: boolean;
}

const text = (result: unknown) => (result as ToolResult).content?.find((c) => c.type === "text")?.text ?? "";
const SAMPLED = { role: "assistant" as const, content: { type: "text" as const, text: "42" }, model: "test-model" };
const ELICITED = { action: "accept" as const, content: { ok: true } };

interface Caller {
  call(name: string): Promise<ToolResult>;
  asked: string[];
  close(): Promise<void>;
}

type Declared = { sampling?: Record<string, object>; elicitation?: Record<string, object> };
const BOTH: Declared = { sampling: {}, elicitation: { form: {} } };

async function legacyCaller(mcpUrl: URL, token: string, declared: Declared): Promise<Caller> {
  const client = new LegacyClient({ name: "asked-1x", version: "1.0.0" }, { capabilities: declared });
  const asked: string[] = [];
  // Handlers only for what it declared (the 1.x client refuses others); any other request that reaches it
  // is recorded, then refused as the SDK would.
  if (declared.sampling) client.setRequestHandler(CreateMessageRequestSchema, () => (asked.push("sampling"), SAMPLED));
  if (declared.elicitation) client.setRequestHandler(ElicitRequestSchema, () => (asked.push("elicitation"), ELICITED));
  client.fallbackRequestHandler = async (request) => {
    asked.push(request.method);
    throw new McpError(ErrorCode.MethodNotFound, "Method not found");
  };
  await client.connect(new LegacyTransport(mcpUrl, { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return { call: async (name) => (await client.callTool({ name, arguments: {} })) as ToolResult, asked, close: () => client.close() };
}

async function modernCaller(mcpUrl: URL, token: string, pin: boolean): Promise<Caller> {
  const client = new ModernClient(
    { name: "asked-2x", version: "1.0.0" },
    { capabilities: { sampling: {}, elicitation: { form: {} } }, ...(pin ? { versionNegotiation: { mode: { pin: "2026-07-28" } } } : {}) },
  );
  const asked: string[] = [];
  client.setRequestHandler("sampling/createMessage", () => (asked.push("sampling"), SAMPLED));
  client.setRequestHandler("elicitation/create", () => (asked.push("elicitation"), ELICITED));
  await client.connect(new ModernTransport(mcpUrl, { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return { call: async (name) => (await client.callTool({ name, arguments: {} })) as ToolResult, asked, close: () => client.close() };
}

for (const driver of drivers()) {
  describe(`gateway relays an upstream's sampling and elicitation requests to the calling client (${driver})`, () => {
    let upstream: SessionUpstream;
    let server: TestServer;
    let mcpUrl: URL;
    let token: Grant;

    beforeAll(async () => {
      upstream = await startSessionUpstream();
      const file = path.join(mkdtempSync(path.join(tmpdir(), "gatehouse-asked-")), "gatehouse.config.json");
      writeFileSync(file, JSON.stringify({ upstreams: [{ name: "asker", url: upstream.url, timeoutMs: 10_000 }] }));
      server = await startTestServer(driver, { config: { configFile: file } });
      mcpUrl = new URL(`${server.base}/mcp`);
      token = await grant(server.base, (await addSignedInUser(server, "alice@example.com")).jar);
    }, 60_000);
    afterAll(async () => {
      await server?.close();
      await upstream?.close();
    });

    const capable: [string, (url: URL, t: string) => Promise<Caller>][] = [
      ["@modelcontextprotocol/sdk 1.x on 2025-11-25", (url, t) => legacyCaller(url, t, BOTH)],
      ["@modelcontextprotocol/client 2.x on 2025-11-25", (url, t) => modernCaller(url, t, false)],
    ];

    it.each(capable)("%s, declaring sampling and elicitation, answers the upstream's questions", async (_label, connect) => {
      const client = await connect(mcpUrl, token.access);
      try {
        const sampled = await client.call("asker_ask");
        expect(sampled.isError ?? false, text(sampled)).toBe(false);
        expect(text(sampled)).toBe('got: {"type":"text","text":"42"}');
        const elicited = await client.call("asker_confirm");
        expect(text(elicited)).toBe('got: {"action":"accept","content":{"ok":true}}');
        expect(client.asked).toEqual(["sampling", "elicitation"]);
      } finally {
        await client.close();
      }
    }, 30_000);

    const incapable: [string, (url: URL, t: string) => Promise<Caller>][] = [
      ["@modelcontextprotocol/sdk 1.x on 2025-11-25 without the capabilities", (url, t) => legacyCaller(url, t, {})],
      ["@modelcontextprotocol/client 2.x on 2026-07-28", (url, t) => modernCaller(url, t, true)],
    ];

    it.each(incapable)("%s: the upstream gets an error, and the call goes on", async (label, connect) => {
      const client = await connect(mcpUrl, token.access);
      try {
        const sampled = await client.call("asker_ask");
        expect(sampled.isError).toBe(true);
        // Neither is put to the client: a 2025 client is asked only for what it declared at initialize (the
        // SDK would send sampling regardless), and 2026-07-28 has no server-to-client requests (README "Gateway").
        expect(text(sampled)).toBe("no answer: the calling client cannot answer sampling/createMessage");
        const elicited = await client.call("asker_confirm");
        expect(text(elicited)).toBe("no answer: the calling client cannot answer elicitation/create");
        expect(text(await client.call("asker_plain"))).toBe("plain");
        // Nothing reached the client, not even a request it would have refused.
        expect(client.asked).toEqual([]);
      } finally {
        await client.close();
      }
    }, 30_000);

    it("@modelcontextprotocol/sdk 1.x on 2025-11-25 declaring elicitation only is asked only that", async () => {
      const client = await legacyCaller(mcpUrl, token.access, { elicitation: { form: {} } });
      try {
        expect(text(await client.call("asker_ask"))).toBe("no answer: the calling client cannot answer sampling/createMessage");
        expect(text(await client.call("asker_confirm"))).toBe('got: {"action":"accept","content":{"ok":true}}');
        expect(client.asked).toEqual(["elicitation"]);
      } finally {
        await client.close();
      }
    }, 30_000);
  });
}
