/**
 * Scopes mean what consent says (issue 9; PRODUCT §6): `mcp` grants every
 * tool, resource and prompt that declares no scope of its own; a declared
 * scope grants exactly the definitions that declare it. A token granted only
 * a tool's scope can use that tool and nothing else; the consent page lists
 * what each scope unlocks, by name. Both protocol generations.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { definePrompt, defineResource, defineTool } from "../../src/index.js";
import { drivers } from "../helpers/databases.js";
import { bearerChallenge, addSignedInUser, grant, type Grant, type TestUser } from "../helpers/mcp-fixtures.js";
import { modernRpc, openSession, request, sessionRpc, type RpcExchange } from "../helpers/mcp.js";
import { openAuthorize, pkce, visibleText } from "../helpers/oauth.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const searchNotes = defineTool({
  name: "search_notes",
  description: "Searches notes.",
  input: z.object({ query: z.string() }),
  scopes: ["notes:read"],
  handler: ({ query }) => ({ content: [{ type: "text", text: `found ${query}` }] }),
});
const motd = defineResource({
  name: "motd",
  uri: "test://scopes/motd",
  description: "Message of the day (no scope of its own).",
  read: (uri) => ({ contents: [{ uri: uri.href, text: "hello" }] }),
});
const noteResource = defineResource({
  name: "note",
  uri: "test://scopes/note",
  description: "A note.",
  scopes: ["notes:read"],
  read: (uri) => ({ contents: [{ uri: uri.href, text: "a note" }] }),
});
const summarize = definePrompt({
  name: "summarize_notes",
  description: "Summarizes notes.",
  scopes: ["notes:read"],
  get: () => ({ messages: [{ role: "user", content: { type: "text", text: "summarize" } }] }),
});

function expectStepUp(exchange: RpcExchange, scope: string) {
  expect(exchange.status, exchange.text).toBe(403);
  const challenge = bearerChallenge(exchange.headers.get("www-authenticate"));
  expect(challenge.get("error")).toBe("insufficient_scope");
  expect((challenge.get("scope") ?? "").split(" ")).toContain(scope);
}

function expectOk(exchange: RpcExchange) {
  expect(exchange.status, exchange.text).toBe(200);
  expect(exchange.message?.error, exchange.text).toBeUndefined();
}

for (const driver of drivers()) {
  describe(`scopes mean what consent says (${driver})`, () => {
    let server: TestServer;
    let base: string;
    let alice: TestUser;
    let notesOnly: Grant;
    let mcpOnly: Grant;

    beforeAll(async () => {
      server = await startTestServer(driver, { gatehouse: { tools: [searchNotes], resources: [motd, noteResource], prompts: [summarize] } });
      base = server.base;
      alice = await addSignedInUser(server, "alice@example.com");
      notesOnly = await grant(base, alice.jar, undefined, "notes:read");
      mcpOnly = await grant(base, alice.jar, undefined, "mcp");
      expect(notesOnly.scope).toBe("notes:read");
    });
    afterAll(async () => server?.close());

    const uses = {
      tool: (name: string) => ["tools/call", { name, arguments: name === "search_notes" ? { query: "q" } : {} }] as const,
      resource: (uri: string) => ["resources/read", { uri }] as const,
      prompt: (name: string) => ["prompts/get", { name }] as const,
    };

    it("a token granted only notes:read uses what notes:read names, and nothing that needs mcp (2026-07-28)", async () => {
      expectOk(await modernRpc(base, notesOnly.access, ...uses.tool("search_notes")));
      expectOk(await modernRpc(base, notesOnly.access, ...uses.resource("test://scopes/note")));
      expectOk(await modernRpc(base, notesOnly.access, ...uses.prompt("summarize_notes")));
      expectStepUp(await modernRpc(base, notesOnly.access, ...uses.tool("whoami")), "mcp");
      expectStepUp(await modernRpc(base, notesOnly.access, ...uses.resource("test://scopes/motd")), "mcp");
    });

    it("a token granted only notes:read uses what notes:read names, and nothing that needs mcp (2025-11-25 session)", async () => {
      const session = await openSession(base, notesOnly.access, "2025-11-25");
      const inSession = (method: string, params: Record<string, unknown>) => sessionRpc(base, notesOnly.access, session, request(method, params));
      expectOk(await inSession(...uses.tool("search_notes")));
      expectOk(await inSession(...uses.prompt("summarize_notes")));
      expectStepUp(await inSession(...uses.tool("whoami")), "mcp");
      expectStepUp(await inSession(...uses.resource("test://scopes/motd")), "mcp");
    });

    it("a token granted only mcp uses what declares no scope, and gets a step-up challenge for notes:read", async () => {
      expectOk(await modernRpc(base, mcpOnly.access, ...uses.tool("whoami")));
      expectOk(await modernRpc(base, mcpOnly.access, ...uses.resource("test://scopes/motd")));
      expectStepUp(await modernRpc(base, mcpOnly.access, ...uses.tool("search_notes")), "notes:read");
      expectStepUp(await modernRpc(base, mcpOnly.access, ...uses.prompt("summarize_notes")), "notes:read");
    });

    it("consent lists exactly what each requested scope unlocks", async () => {
      const consentText = async (scope: string) => {
        const response = await openAuthorize(base, alice.jar, {
          response_type: "code", client_id: notesOnly.client.client_id, redirect_uri: notesOnly.client.redirect_uris[0]!,
          code_challenge: pkce().challenge, code_challenge_method: "S256", state: "s", scope, resource: `${base}/mcp`,
        });
        expect(response.status).toBe(200);
        return visibleText(await response.text());
      };
      const notes = await consentText("notes:read");
      expect(notes).toContain("Tools: search_notes");
      expect(notes).toContain("Resources: note");
      expect(notes).toContain("Prompts: summarize_notes");
      expect(notes).not.toContain("whoami");
      expect(notes).not.toContain("motd");
      const plain = await consentText("mcp");
      expect(plain).toContain("Tools: whoami");
      expect(plain).toContain("Resources: motd");
      expect(plain).not.toContain("search_notes");
    });
  });
}
