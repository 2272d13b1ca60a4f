/**
 * Session state beyond the stored initialize: `logging/setLevel` on a 2025
 * session holds wherever the session is served next — after this node
 * dropped its idle live copy, and on another node (no sticky routing).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { ManualClock } from "../../src/clock.js";
import { defineResource, defineTool } from "../../src/index.js";
import { drivers } from "../helpers/databases.js";
import { messageOf, SseReader, type JsonRpcMessage } from "../helpers/sse.js";
import { modernRpc, openSession, request, sessionPost, sessionRpc, type LegacySession, type RpcExchange } from "../helpers/mcp.js";
import { addSignedInUser, grant, startCluster, type Cluster, type TestUser } from "../helpers/mcp-fixtures.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

/** Logs one message at each of two levels, then returns. */
const chatty = defineTool({
  name: "chatty",
  description: "Logs an info and an error message.",
  async handler(_args, ctx) {
    await ctx.sdk.mcpReq.log("info", "info-message");
    await ctx.sdk.mcpReq.log("error", "error-message");
    return { content: [{ type: "text", text: "done" }] };
  },
});

/** Asks the client (2025 form elicitation on the call's own stream) and answers with what came back. */
const ask = defineTool({
  name: "ask",
  description: "Asks the client for a word, then echoes it.",
  input: z.object({ label: z.string() }),
  async handler({ label }, ctx) {
    const answer = await ctx.sdk.mcpReq.send({
      method: "elicitation/create",
      params: { mode: "form", message: label, requestedSchema: { type: "object", properties: { word: { type: "string" } }, required: ["word"] } },
    });
    return { content: [{ type: "text", text: `${label}=${JSON.stringify(answer.content?.word)}` }] };
  },
});

const greeting = defineResource({
  name: "greeting",
  uri: "test://greeting",
  read: (uri) => ({ contents: [{ uri: uri.href, text: "hello" }] }),
});

const isResultOf = (id: string | number) => (_: unknown, m: JsonRpcMessage | null) => m !== null && m.id === id && m.method === undefined;

const logged = (exchange: RpcExchange) =>
  exchange.events
    .map(messageOf)
    .filter((m) => m?.method === "notifications/message")
    .map((m) => (m!.params as { data: unknown }).data);

async function setLevel(base: string, token: string, session: LegacySession, level: string) {
  const answer = await sessionRpc(base, token, session, request("logging/setLevel", { level }));
  expect(answer.message?.result, answer.text).toEqual({});
}

for (const driver of drivers()) {
  describe(`a 2025 session's logging level survives the loss of its live copy (${driver})`, () => {
    const clock = new ManualClock(Date.now());
    let server: TestServer;
    let alice: TestUser;

    beforeAll(async () => {
      server = await startTestServer(driver, { clock, gatehouse: { tools: [chatty], resources: [greeting] } });
      alice = await addSignedInUser(server, "alice@example.com");
    });
    afterAll(async () => server?.close());

    it("filters by the level set before the idle session was dropped from memory and rebuilt", async () => {
      const { access } = await grant(server.base, alice.jar);
      const session = await openSession(server.base, access, "2025-11-25");
      expect(logged(await sessionRpc(server.base, access, session, request("tools/call", { name: "chatty", arguments: {} })))).toEqual([
        "info-message",
        "error-message",
      ]);
      await setLevel(server.base, access, session, "error");
      expect(logged(await sessionRpc(server.base, access, session, request("tools/call", { name: "chatty", arguments: {} })))).toEqual([
        "error-message",
      ]);

      const live = server.running.services.mcp.legacy;
      clock.advance(10 * 60_000);
      await server.running.gatehouse.sweep();
      expect(live.size, "the idle live copy is gone").toBe(0);
      const revived = await sessionRpc(server.base, access, session, request("tools/call", { name: "chatty", arguments: {} }));
      expect(revived.status, revived.text).toBe(200);
      expect(logged(revived)).toEqual(["error-message"]);
    });

    it("answers an invalid logging level with -32602 (LC-4), and an unknown resource with -32002 on a 2025 session", async () => {
      const { access } = await grant(server.base, alice.jar);
      const session = await openSession(server.base, access, "2025-11-25");
      const bogus = await sessionRpc(server.base, access, session, request("logging/setLevel", { level: "bogus" }));
      expect(bogus.message?.error?.code, bogus.text).toBe(-32602);
      expect(bogus.text).not.toMatch(/invalid_value|"path"/);
      const known = await sessionRpc(server.base, access, session, request("resources/read", { uri: "test://greeting" }));
      expect(known.text).toContain("hello");
      const unknown = await sessionRpc(server.base, access, session, request("resources/read", { uri: "test://nope" }));
      expect(unknown.message?.error?.code, unknown.text).toBe(-32002);
      const modern = await modernRpc(server.base, access, "resources/read", { uri: "test://nope" });
      expect(modern.message?.error?.code, "2026-07-28 keeps -32602").toBe(-32602);
    });
  });
}

describe.runIf(drivers().includes("postgres"))("a 2025 session's logging level holds on another node (postgres)", () => {
  let cluster: Cluster;
  let alice: TestUser;

  beforeAll(async () => {
    cluster = await startCluster({ gatehouse: { tools: [chatty, ask] } });
    alice = await addSignedInUser(cluster.a, "alice@example.com");
  });
  afterAll(async () => cluster?.close());

  it("set on node A, applied on node B", async () => {
    const { access } = await grant(cluster.publicUrl, alice.jar);
    const session = await openSession(cluster.base("a"), access, "2025-11-25");
    await setLevel(cluster.base("a"), access, session, "error");
    const onB = await sessionRpc(cluster.base("b"), access, session, request("tools/call", { name: "chatty", arguments: {} }));
    expect(onB.status, onB.text).toBe(200);
    expect(logged(onB)).toEqual(["error-message"]);
  });

  it("two nodes asking the client at once in one session use distinct request ids; each answer, posted to the other node, reaches its asker", async () => {
    const { access } = await grant(cluster.publicUrl, alice.jar);
    const session = await openSession(cluster.base("a"), access, "2025-11-25", { elicitation: { form: {} } });
    const calls = { a: request("tools/call", { name: "ask", arguments: { label: "from-a" } }), b: request("tools/call", { name: "ask", arguments: { label: "from-b" } }) };
    const streams = {
      a: new SseReader(await sessionPost(cluster.base("a"), access, session, calls.a)),
      b: new SseReader(await sessionPost(cluster.base("b"), access, session, calls.b)),
    };
    try {
      const asked = {
        a: messageOf((await streams.a.until((_, m) => m?.method === "elicitation/create", 5000)).at(-1)!)!,
        b: messageOf((await streams.b.until((_, m) => m?.method === "elicitation/create", 5000)).at(-1)!)!,
      };
      expect(asked.a.id, "each node's own request id").not.toEqual(asked.b.id);
      // Each answer goes to the node that did not ask: relayed over the bus to the one that did.
      for (const [node, other, word] of [["a", "b", "alpha"], ["b", "a", "beta"]] as const) {
        const answer = await sessionPost(cluster.base(other), access, session, {
          jsonrpc: "2.0",
          id: asked[node].id!,
          result: { action: "accept", content: { word } },
        } as JsonRpcMessage);
        expect(answer.status).toBe(202);
        await answer.body?.cancel();
      }
      const results = {
        a: messageOf((await streams.a.until(isResultOf(calls.a.id!), 5000)).at(-1)!)!,
        b: messageOf((await streams.b.until(isResultOf(calls.b.id!), 5000)).at(-1)!)!,
      };
      expect(JSON.stringify(results.a.result)).toContain('from-a=\\"alpha\\"');
      expect(JSON.stringify(results.b.result)).toContain('from-b=\\"beta\\"');
    } finally {
      await streams.a.close();
      await streams.b.close();
    }
  });
});
