/**
 * What /mcp echoes back (README "Limits"; PRODUCT §8), black-box over HTTP
 * on both databases: over-long names, methods and URIs refused before the
 * SDK repeats them in its own errors, on both protocol paths, and never
 * stored as a replayable event.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_MCP_LIMITS } from "../../src/config.js";
import { drivers } from "../helpers/databases.js";
import {
  addSignedInUser,
  grant,
  type JsonRpcMessage,
  modernFetch,
  openSession,
  readExchange,
  request,
  rpc,
  sessionRpc,
} from "../helpers/mcp.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const MB = 1024 * 1024;
const huge = (prefix = "") => `${prefix}${"n".repeat(MB)}`;

for (const driver of drivers()) {
  describe(`MCP limits on what is echoed (${driver})`, () => {
    let server: TestServer;
    let token: string;

    beforeAll(async () => {
      server = await startTestServer(driver);
      token = (await grant(server.base, (await addSignedInUser(server, "echo@example.com")).jar)).access;
    });
    afterAll(async () => server?.close());

    const storedEvents = async (target: TestServer, sessionId: string) =>
      (await target.running.deps.kv.scanByPrefix(`mcp:event:${encodeURIComponent(sessionId)}:`, { limit: 1000 })).entries;

    describe(`names echoed into errors (methods and names ${DEFAULT_MCP_LIMITS.maxNameChars} characters, URIs ${DEFAULT_MCP_LIMITS.maxUriChars})`, () => {
      const expectShortRefusal = (exchange: { status: number; text: string; message: JsonRpcMessage | null }, id: number | string, code: number, path: string) => {
        expect(exchange.status, exchange.text.slice(0, 300)).toBe(200);
        expect(exchange.text.length, "the answer quotes only the start of the name").toBeLessThan(400);
        expect(exchange.message?.id).toBe(id);
        expect(exchange.message?.error?.code).toBe(code);
        expect(exchange.message?.error?.message).toMatch(new RegExp(`^Invalid (params|Request): ${path.replace(/[.]/g, "\\.")} is longer than \\d+ characters \\(".{1,40}…"\\)$`));
      };

      it("a 1 MB tool name in a 2025 session → -32602 quoting its first 40 characters, and no 1 MB event stored", async () => {
        const session = await openSession(server.base, token);
        const call = request("tools/call", { name: huge("tool-"), arguments: {} });
        expectShortRefusal(await sessionRpc(server.base, token, session, call), call.id!, -32602, "params.name");
        for (const event of await storedEvents(server, session.id)) expect(event.value.length).toBeLessThan(4096);
      });

      it("a 1 MB tool name at 2026-07-28 → the same refusal", async () => {
        const id = 9001;
        const response = await modernFetch(server.base, token, "tools/call", { name: huge("tool-"), arguments: {} }, { id, headers: { "mcp-name": "tool-n" } });
        expectShortRefusal(await readExchange(response, id), id, -32602, "params.name");
      });

      it.each([
        ["method", () => request(huge("tools/"), {}), -32600],
        ["params.name", () => request("prompts/get", { name: huge() }), -32602],
        ["params.uri", () => request("resources/read", { uri: `test://note/${"u".repeat(DEFAULT_MCP_LIMITS.maxUriChars)}` }), -32602],
        ["params.ref.name", () => request("completion/complete", { ref: { type: "ref/prompt", name: huge() }, argument: { name: "a", value: "" } }), -32602],
        ["params.ref.uri", () => request("completion/complete", { ref: { type: "ref/resource", uri: huge("test://") }, argument: { name: "a", value: "" } }), -32602],
        ["params.taskId", () => request("tasks/get", { taskId: huge() }), -32602],
      ])("an over-long %s → a short refusal on both paths", async (path, make, code) => {
        const session = await openSession(server.base, token);
        const legacy = make();
        expectShortRefusal(await sessionRpc(server.base, token, session, legacy), legacy.id!, code, path);
        const modern = make();
        const headers = { "mcp-method": "x", "mcp-name": "x" };
        const response = await modernFetch(server.base, token, String(modern.method), modern.params, { id: modern.id!, headers });
        expectShortRefusal(await readExchange(response, modern.id!), modern.id!, code, path);
      });

      it("an over-long protocol version (initialize, or the 2026-07-28 envelope) → a short refusal", async () => {
        const init = request("initialize", { protocolVersion: huge(), capabilities: {}, clientInfo: { name: "v", version: "1" } });
        expectShortRefusal(await rpc(server.base, { token, body: init }), init.id!, -32602, "params.protocolVersion");
        const id = 9002;
        const response = await modernFetch(server.base, token, "tools/list", { _meta: { "io.modelcontextprotocol/protocolVersion": huge() } }, { id });
        expectShortRefusal(await readExchange(response, id), id, -32602, "params._meta protocol version");
      });

      it("a name at the limit is served as usual (the SDK's own 'not found')", async () => {
        const session = await openSession(server.base, token);
        const name = "t".repeat(DEFAULT_MCP_LIMITS.maxNameChars);
        const answer = await sessionRpc(server.base, token, session, request("tools/call", { name, arguments: {} }));
        expect(answer.message?.error?.code).toBe(-32602);
        expect(answer.message?.error?.message).toContain(name);
      });
    });
  });
}
