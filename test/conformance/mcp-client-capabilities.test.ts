/**
 * `ctx.client.capabilities` (README "Embedding"): a tool sees the MCP
 * capabilities its caller declared — on a 2025 session those of its
 * `initialize`, also once the session is rebuilt (this node dropped its idle
 * live copy, or another node serves it); on 2026-07-28 those of the
 * request's `_meta` envelope, on the lean dispatch and the SDK path alike.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { defineTool } from "../../src/index.js";
import { drivers } from "../helpers/databases.js";
import { modernRpc, openSession, request, sessionRpc, type RpcExchange } from "../helpers/mcp.js";
import { addSignedInUser, grant, startCluster, type Cluster, type TestUser } from "../helpers/mcp-fixtures.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const reporting = (name: string, sdkDispatch: boolean) =>
  defineTool({
    name,
    description: "Returns the capabilities the calling client declared.",
    sdkDispatch,
    handler: (_args, ctx) => ({ content: [{ type: "text", text: JSON.stringify(ctx.client.capabilities) }] }),
  });
const tools = [reporting("lean_caps", false), reporting("sdk_caps", true)];

const DECLARED = { sampling: {}, elicitation: { form: {} }, roots: { listChanged: true } };
const CAPABILITIES_KEY = "io.modelcontextprotocol/clientCapabilities";

function seen(exchange: RpcExchange): unknown {
  const result = exchange.message?.result as { content?: { text?: string }[] } | undefined;
  const text = result?.content?.[0]?.text;
  expect(text, exchange.text).toBeDefined();
  return JSON.parse(text!);
}

const call = (name: string) => request("tools/call", { name, arguments: {} });

for (const driver of drivers()) {
  describe(`a tool sees the calling client's declared capabilities (${driver})`, () => {
    const clock = new ManualClock(Date.now());
    let server: TestServer;
    let alice: TestUser;

    beforeAll(async () => {
      server = await startTestServer(driver, { clock, gatehouse: { tools } });
      alice = await addSignedInUser(server, "alice@example.com");
    });
    afterAll(async () => server?.close());

    it("on a 2025 session, those of its initialize, before and after the live copy is dropped and rebuilt", async () => {
      const { access } = await grant(server.base, alice.jar);
      const declaring = await openSession(server.base, access, "2025-11-25", DECLARED);
      const silent = await openSession(server.base, access, "2025-11-25");
      for (const name of ["lean_caps", "sdk_caps"]) {
        expect(seen(await sessionRpc(server.base, access, declaring, call(name)))).toEqual(DECLARED);
        expect(seen(await sessionRpc(server.base, access, silent, call(name)))).toEqual({});
      }

      clock.advance(10 * 60_000);
      await server.running.gatehouse.sweep();
      expect(server.running.services.mcp.legacy.size, "the idle live copies are gone").toBe(0);
      expect(seen(await sessionRpc(server.base, access, declaring, call("lean_caps")))).toEqual(DECLARED);
      expect(seen(await sessionRpc(server.base, access, silent, call("lean_caps")))).toEqual({});
    });

    it.each(["lean_caps", "sdk_caps"])("on 2026-07-28, those of the request's envelope (%s)", async (name) => {
      const { access } = await grant(server.base, alice.jar);
      // As declared, the pre-mode `elicitation: {}` included (the SDK path must not normalise what lean passes through).
      for (const declared of [{ elicitation: {} }, { elicitation: { form: {}, url: {} } }, { sampling: { tools: {} }, roots: {} }]) {
        const declaring = await modernRpc(server.base, access, "tools/call", { name, arguments: {}, _meta: { [CAPABILITIES_KEY]: declared } });
        expect(seen(declaring)).toEqual(declared);
      }
      expect(seen(await modernRpc(server.base, access, "tools/call", { name, arguments: {} }))).toEqual({});
    });
  });
}

describe.runIf(drivers().includes("postgres"))("a 2025 session's declared capabilities on another node (postgres)", () => {
  let cluster: Cluster;
  let alice: TestUser;

  beforeAll(async () => {
    cluster = await startCluster({ gatehouse: { tools } });
    alice = await addSignedInUser(cluster.a, "alice@example.com");
  });
  afterAll(async () => cluster?.close());

  it("initialized on node A, seen by the tool on node B", async () => {
    const { access } = await grant(cluster.publicUrl, alice.jar);
    const session = await openSession(cluster.base("a"), access, "2025-11-25", DECLARED);
    expect(seen(await sessionRpc(cluster.base("b"), access, session, call("lean_caps")))).toEqual(DECLARED);
  });
});
