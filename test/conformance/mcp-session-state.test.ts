/**
 * Session state beyond the stored initialize: `logging/setLevel` on a 2025
 * session holds wherever the session is served next — after this node
 * dropped its idle live copy, and on another node (no sticky routing).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { defineTool } from "../../src/index.js";
import { drivers } from "../helpers/databases.js";
import {
  addSignedInUser,
  grant,
  messageOf,
  openSession,
  request,
  sessionRpc,
  startCluster,
  type Cluster,
  type LegacySession,
  type RpcExchange,
  type TestUser,
} from "../helpers/mcp.js";
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
      server = await startTestServer(driver, { clock, gatehouse: { tools: [chatty] } });
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
  });
}

describe.runIf(drivers().includes("postgres"))("a 2025 session's logging level holds on another node (postgres)", () => {
  let cluster: Cluster;
  let alice: TestUser;

  beforeAll(async () => {
    cluster = await startCluster({ gatehouse: { tools: [chatty] } });
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
});
