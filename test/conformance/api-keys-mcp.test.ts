/**
 * Personal API keys at /mcp (issue 11.4, PRODUCT §6 token kinds): off by
 * default — a key is refused at /mcp like any unknown token — and with
 * GATEHOUSE_API_KEYS_AT_MCP a key is a bearer token there with the scopes it
 * was created with. Deleting it stops it at once, its 2025 sessions included;
 * it never works as an OAuth token anywhere else.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { defineTool } from "../../src/index.js";
import { api } from "../helpers/console.js";
import { drivers } from "../helpers/databases.js";
import { addSignedInUser, bearerChallenge, type TestUser } from "../helpers/mcp-fixtures.js";
import { modernRpc, openGetStream, openSession, request, sessionRpc, type RpcExchange } from "../helpers/mcp.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const searchNotes = defineTool({
  name: "search_notes",
  description: "Searches notes.",
  input: z.object({ query: z.string() }),
  scopes: ["notes:read"],
  handler: ({ query }) => ({ content: [{ type: "text", text: `found ${query}` }] }),
});

async function createKey(base: string, user: TestUser, body: Record<string, unknown>) {
  const me = await api(base, "/me", { cookie: user.jar });
  return api(base, "/tokens", { method: "POST", cookie: user.jar, csrf: me.json!.csrf_token as string, body });
}

async function newKey(base: string, user: TestUser, body: Record<string, unknown>): Promise<{ id: string; token: string; scopes: string[] }> {
  const created = await createKey(base, user, body);
  expect(created.status, created.text).toBe(201);
  return created.json as unknown as { id: string; token: string; scopes: string[] };
}

const whoamiText = (exchange: RpcExchange) => {
  expect(exchange.status, exchange.text).toBe(200);
  const result = exchange.message?.result as { content: { text: string }[] } | undefined;
  expect(result, exchange.text).toBeDefined();
  return result!.content.map((c) => c.text).join("\n");
};

for (const driver of drivers()) {
  describe(`personal API keys at /mcp (${driver})`, () => {
    describe("by default", () => {
      let server: TestServer;
      let alice: TestUser;
      beforeAll(async () => {
        server = await startTestServer(driver);
        alice = await addSignedInUser(server, "alice@example.com");
      });
      afterAll(async () => server?.close());

      it("a key is refused at /mcp like any unknown token (401 invalid_token), and still works at /api", async () => {
        const key = await newKey(server.base, alice, { name: "script" });
        const exchange = await modernRpc(server.base, key.token, "tools/call", { name: "whoami", arguments: {} });
        expect(exchange.status).toBe(401);
        expect(bearerChallenge(exchange.headers.get("www-authenticate")).get("error")).toBe("invalid_token");
        expect((await api(server.base, "/me", { bearer: key.token })).status).toBe(200);
      });
    });

    describe("with GATEHOUSE_API_KEYS_AT_MCP", () => {
      let server: TestServer;
      let base: string;
      let alice: TestUser;
      let bob: TestUser;
      beforeAll(async () => {
        server = await startTestServer(driver, { config: { apiKeysAtMcp: true }, gatehouse: { tools: [searchNotes] } });
        base = server.base;
        alice = await addSignedInUser(server, "alice@example.com");
        bob = await addSignedInUser(server, "bob@example.com");
      });
      afterAll(async () => server?.close());

      it("a key calls tools as its owner, with mcp unless it asked for other scopes (2026-07-28)", async () => {
        const key = await newKey(base, alice, { name: "ci" });
        expect(key.scopes).toEqual(["mcp"]);
        expect(whoamiText(await modernRpc(base, key.token, "tools/call", { name: "whoami", arguments: {} }))).toContain("alice@example.com");
        const denied = await modernRpc(base, key.token, "tools/call", { name: "search_notes", arguments: { query: "q" } });
        expect(denied.status, denied.text).toBe(403);
        expect(bearerChallenge(denied.headers.get("www-authenticate")).get("error")).toBe("insufficient_scope");
      });

      it("a key created with only notes:read uses that scope's tool and nothing that needs mcp", async () => {
        const key = await newKey(base, bob, { name: "notes bot", scopes: ["notes:read"] });
        expect(key.scopes).toEqual(["notes:read"]);
        const found = await modernRpc(base, key.token, "tools/call", { name: "search_notes", arguments: { query: "q" } });
        expect(found.status, found.text).toBe(200);
        expect(found.message?.error).toBeUndefined();
        expect((await modernRpc(base, key.token, "tools/call", { name: "whoami", arguments: {} })).status).toBe(403);
      });

      it("a key cannot be created with a scope that does not exist", async () => {
        const response = await createKey(base, alice, { name: "greedy", scopes: ["mcp", "admin:everything"] });
        expect(response.status, response.text).toBe(400);
        expect(response.json!.error).toBe("invalid_scope");
      });

      it("a 2025 session opened with a key ends when the key is deleted; the key stops at once", async () => {
        const key = await newKey(base, alice, { name: "session script" });
        const session = await openSession(base, key.token, "2025-11-25");
        const call = () => sessionRpc(base, key.token, session, request("tools/call", { name: "whoami", arguments: {} }));
        expect(whoamiText(await call())).toContain("alice@example.com");
        const me = await api(base, "/me", { cookie: alice.jar });
        const deleted = await api(base, `/tokens/${key.id}`, { method: "DELETE", cookie: alice.jar, csrf: me.json!.csrf_token as string });
        expect(deleted.status, deleted.text).toBe(204);
        expect((await call()).status).toBe(401);
        expect((await modernRpc(base, key.token, "tools/call", { name: "whoami", arguments: {} })).status).toBe(401);
      });

      it("a disabled user's key stops at /mcp at once, the streams it opened close, and it works again when enabled", async () => {
        const carol = await addSignedInUser(server, "carol@example.com");
        const key = await newKey(base, carol, { name: "carol's script" });
        const call = () => modernRpc(base, key.token, "tools/call", { name: "whoami", arguments: {} });
        expect((await call()).status).toBe(200);
        const session = await openSession(base, key.token);
        const stream = await openGetStream(base, key.token, session);
        await server.running.gatehouse.users.disable("carol@example.com");
        expect((await call()).status).toBe(401);
        // The GET stream the key opened closes with the account, not at the key's next request.
        expect(await stream.endsWithin(5_000)).toBe(true);
        await server.running.gatehouse.users.enable("carol@example.com");
        expect((await call()).status).toBe(200);
      });

      it("kinds still never cross: a key is not an OAuth token at /oauth/token or /oauth/introspect", async () => {
        const key = await newKey(base, alice, { name: "not a refresh token" });
        const refresh = await fetch(`${base}/oauth/token`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: key.token, client_id: "gh_nobody" }),
        });
        expect(refresh.status).toBeGreaterThanOrEqual(400);
        expect(await refresh.text()).not.toContain("access_token");
      });
    });
  });
}
