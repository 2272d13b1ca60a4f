/**
 * Gateway mode against a real upstream: the reference
 * `@modelcontextprotocol/server-everything` (its `stdio` transport, one child
 * process) behind a real Gatehouse, used by the official clients with an
 * access token from Gatehouse's own OAuth flow (DCR, consent with PKCE, code
 * exchange — test/helpers/mcp-fixtures.ts `grant`):
 *
 * - `@modelcontextprotocol/client` 2.x on 2026-07-28 (stateless) and on
 *   2025-11-25 (a session);
 * - `@modelcontextprotocol/sdk` 1.x on 2025-11-25.
 *
 * Each lists the upstream's tools under the `everything_` prefix, calls
 * `echo` and `get-sum`, and calls `trigger-long-running-operation` with a
 * progress token: the upstream's progress notifications reach the client.
 * Its resources (URIs as the upstream has them), resource templates and
 * prompts (prefixed names) are listed, read and got the same way, and an
 * upstream's refusal answers that one request with a JSON-RPC error.
 */
import path from "node:path";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from "@modelcontextprotocol/client";
import { Client as LegacyClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as LegacyTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { drivers } from "../helpers/databases.js";
import { addSignedInUser, grant, type Grant } from "../helpers/mcp-fixtures.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const EVERYTHING = path.join(ROOT, "node_modules/@modelcontextprotocol/server-everything/dist/index.js");

function writeConfig(): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "gatehouse-everything-")), "gatehouse.config.json");
  writeFileSync(file, JSON.stringify({ upstreams: [{ name: "everything", command: process.execPath, args: [EVERYTHING, "stdio"], timeoutMs: 20_000,
    prompts: { deny: ["completable-prompt"] }, resources: { deny: ["demo://resource/dynamic/blob/{resourceId}"] } }] }));
  return file;
}

interface ToolResult {
  content?: { type: string; text?: string }[];
  isError?: boolean;
}

/** What every client is asked to do through the gateway; the same for each library and protocol generation. */
interface Caller {
  listTools(): Promise<{ name: string; inputSchema: Record<string, unknown> }[]>;
  callTool(name: string, args: Record<string, unknown>, onProgress?: (progress: number, total?: number) => void): Promise<ToolResult>;
  close(): Promise<void>;
  /** Both libraries' clients have these, with the same shapes. */
  sdk: Pick<ModernClient, "listResources" | "listResourceTemplates" | "readResource" | "listPrompts" | "getPrompt">;
}

const text = (result: ToolResult) => result.content?.find((c) => c.type === "text")?.text ?? "";

async function modernCaller(mcpUrl: URL, token: string, pin: boolean): Promise<Caller & { protocolVersion(): string | undefined }> {
  const client = new ModernClient({ name: "gateway-2x", version: "1.0.0" }, pin ? { versionNegotiation: { mode: { pin: "2026-07-28" } } } : {});
  const transport = new ModernTransport(mcpUrl, { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  await client.connect(transport);
  return {
    protocolVersion: () => transport.protocolVersion,
    listTools: async () => (await client.listTools()).tools as never,
    callTool: async (name, args, onProgress) =>
      (await client.callTool({ name, arguments: args }, onProgress ? { onprogress: (p) => onProgress(p.progress, p.total) } : {})) as ToolResult,
    close: () => client.close(),
    sdk: client,
  };
}

async function legacyCaller(mcpUrl: URL, token: string): Promise<Caller & { protocolVersion(): string | undefined }> {
  const client = new LegacyClient({ name: "gateway-1x", version: "1.0.0" });
  const transport = new LegacyTransport(mcpUrl, { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  await client.connect(transport);
  return {
    protocolVersion: () => transport.protocolVersion,
    listTools: async () => (await client.listTools()).tools as never,
    callTool: async (name, args, onProgress) =>
      (await client.callTool({ name, arguments: args }, undefined, onProgress ? { onprogress: (p) => onProgress(p.progress, p.total) } : {})) as ToolResult,
    close: () => client.close(),
    sdk: client as unknown as Caller["sdk"],
  };
}

for (const driver of drivers()) {
  describe(`gateway in front of server-everything, used by the official SDK clients (${driver})`, () => {
    let server: TestServer;
    let mcpUrl: URL;
    let token: Grant;

    beforeAll(async () => {
      server = await startTestServer(driver, { config: { configFile: writeConfig() } });
      mcpUrl = new URL(`${server.base}/mcp`);
      const alice = await addSignedInUser(server, "alice@example.com");
      token = await grant(server.base, alice.jar);
    }, 60_000);
    afterAll(async () => {
      await server?.close();
    });

    const clients: [string, string, (url: URL, token: string) => Promise<Caller & { protocolVersion(): string | undefined }>][] = [
      ["@modelcontextprotocol/client 2.x", "2026-07-28", (url, t) => modernCaller(url, t, true)],
      ["@modelcontextprotocol/client 2.x", "2025-11-25", (url, t) => modernCaller(url, t, false)],
      ["@modelcontextprotocol/sdk 1.x", "2025-11-25", legacyCaller],
    ];

    it.each(clients)("%s on %s lists and calls server-everything's tools, with progress relayed", async (_library, version, connect) => {
      const client = await connect(mcpUrl, token.access);
      try {
        expect(client.protocolVersion()).toBe(version);
        const tools = await client.listTools();
        const names = tools.map((t) => t.name);
        expect(names).toEqual(expect.arrayContaining(["whoami", "everything_echo", "everything_get-sum", "everything_trigger-long-running-operation"]));
        expect(tools.find((t) => t.name === "everything_get-sum")!.inputSchema).toMatchObject({
          type: "object",
          properties: { a: { type: "number" }, b: { type: "number" } },
        });

        expect(text(await client.callTool("everything_echo", { message: "through the gate" }))).toBe("Echo: through the gate");
        const sum = await client.callTool("everything_get-sum", { a: 2, b: 40 });
        expect(sum.isError ?? false, JSON.stringify(sum)).toBe(false);
        expect(text(sum)).toContain("42");

        const progress: [number, number | undefined][] = [];
        const long = await client.callTool("everything_trigger-long-running-operation", { duration: 0.3, steps: 3 }, (p, total) => progress.push([p, total]));
        expect(text(long)).toContain("Long running operation completed");
        expect(progress).toEqual([[1, 3], [2, 3], [3, 3]]);
      } finally {
        await client.close();
      }
    }, 30_000);

    it.each(clients)("%s on %s lists and reads server-everything's resources and gets its prompts", async (_library, version, connect) => {
      const client = await connect(mcpUrl, token.access);
      try {
        expect(client.protocolVersion()).toBe(version);
        const { resources } = await client.sdk.listResources();
        const document = resources.find((r) => r.uri.startsWith("demo://resource/static/document/"));
        expect(document, JSON.stringify(resources)).toBeDefined();
        expect(document!.name.startsWith("everything_")).toBe(true);
        const read = await client.sdk.readResource({ uri: document!.uri });
        expect(read.contents[0]!.uri).toBe(document!.uri);

        const { resourceTemplates } = await client.sdk.listResourceTemplates();
        expect(resourceTemplates.map((t) => t.uriTemplate)).toEqual(["demo://resource/dynamic/text/{resourceId}"]);
        const dynamic = await client.sdk.readResource({ uri: "demo://resource/dynamic/text/7" });
        expect(dynamic.contents[0]).toMatchObject({ uri: "demo://resource/dynamic/text/7", mimeType: "text/plain" });

        // The upstream refuses a resource id that is not a number: a JSON-RPC error for that read, and Gatehouse carries on.
        await expect(client.sdk.readResource({ uri: "demo://resource/dynamic/text/nope" })).rejects.toThrow(/upstream everything: .*Unknown resource/);

        const { prompts } = await client.sdk.listPrompts();
        expect(prompts.map((p) => p.name)).toEqual(expect.arrayContaining(["everything_simple-prompt", "everything_args-prompt"]));
        expect(prompts.map((p) => p.name)).not.toContain("everything_completable-prompt");
        expect(prompts.find((p) => p.name === "everything_args-prompt")!.arguments).toEqual(
          expect.arrayContaining([expect.objectContaining({ name: "city", required: true }), expect.objectContaining({ name: "state" })]),
        );
        const got = await client.sdk.getPrompt({ name: "everything_args-prompt", arguments: { city: "Lyon", state: "Rhône" } });
        expect(got.messages[0]!.content).toMatchObject({ type: "text", text: "What's weather in Lyon, Rhône?" });
        const simple = await client.sdk.getPrompt({ name: "everything_simple-prompt" });
        expect(simple.messages[0]!.content).toMatchObject({ type: "text", text: "This is a simple prompt without arguments." });
      } finally {
        await client.close();
      }
    }, 30_000);
  });
}
