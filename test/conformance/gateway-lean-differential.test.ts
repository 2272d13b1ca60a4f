/**
 * Proxied tools on the lean 2026-07-28 dispatch (issue 12's overhead target):
 * a gateway's tools carry the upstream's JSON Schema as a pass-through
 * `inputSchema` and, when the upstream declares one, an `outputSchema`; the
 * lean dispatch serves them (and any tool with a Standard Schema input or
 * output) as McpServer does. Two Gatehouses in front of one upstream, one
 * with the lean dispatch and one with `leanDispatch: false`, must answer the
 * same requests with the same status, headers and body bytes; and the lean
 * one must not take the SDK path for them.
 */
import fc from "fast-check";
import { z } from "zod";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineTool, type ToolDefinition } from "../../src/index.js";
import { rawPost, startPair, visible, type ServerPair } from "../helpers/differential.js";
import { request, results, toRaw, type Spec } from "../helpers/lean-requests.js";
import { addSignedInUser, grant, type Grant } from "../helpers/mcp-fixtures.js";
import { startShapesUpstream, type ShapesUpstream } from "../fixtures/upstream-shapes.js";

/** A local tool with a zod output schema: McpServer's output checks, on whatever the request asks it to return. */
const outShape = defineTool({
  name: "out_shape",
  description: "Returns `result`, against an output schema.",
  input: z.object({ result: z.unknown() }),
  outputSchema: z.object({ n: z.number() }) as unknown as NonNullable<ToolDefinition["outputSchema"]>,
  handler: ({ result }) => result as never,
});

let upstream: ShapesUpstream;
let pair: ServerPair;
let access: Grant;

beforeAll(async () => {
  upstream = await startShapesUpstream();
  pair = await startPair(() => ({ tools: [outShape as unknown as ToolDefinition], upstreams: [{ name: "up", url: upstream.url, scopes: ["up:use"] }] }));
  const alice = await addSignedInUser(pair.lean, "alice@example.com");
  access = await grant(pair.base, alice.jar, undefined, "mcp up:use");
}, 60_000);

afterAll(async () => {
  await pair?.close();
  await upstream?.close();
});

async function both(s: Spec, token = access.access) {
  const raw = toRaw(s, token);
  return { lean: visible(await rawPost(pair.lean, pair.base, raw)), sdk: visible(await rawPost(pair.sdk, pair.base, raw)) };
}

async function expectSame(s: Spec, token?: string): Promise<void> {
  const { lean, sdk } = await both(s, token);
  expect(lean, `${s.method} ${JSON.stringify(s.params)?.slice(0, 300)}`).toEqual(sdk);
}

describe("proxied tools: lean dispatch ≡ SDK path (2026-07-28)", () => {
  it("answers hand-picked calls identically", async () => {
    const cases: Spec[] = [
      request("tools/call", { name: "up_echo", arguments: { text: "hi" } }),
      request("tools/call", { name: "up_echo", arguments: { text: "ünïcødé 😀 \u2028" } }),
      request("tools/call", { name: "up_echo", arguments: { text: 5 } }),
      request("tools/call", { name: "up_echo", arguments: {} }),
      request("tools/call", { name: "up_echo" }),
      request("tools/call", { name: "up_add", arguments: { a: 2, b: 3 } }),
      request("tools/call", { name: "up_add", arguments: { a: "2" } }),
      request("tools/call", { name: "up_shape", arguments: { result: { content: [{ type: "text", text: "t" }], structuredContent: [1, 2] } } }),
      request("tools/call", { name: "up_shape", arguments: { result: { content: [], _meta: { k: 1 } } } }),
      request("tools/call", { name: "up_fail", arguments: {} }),
      request("tools/call", { name: "up_throws", arguments: {} }),
      request("tools/call", { name: "up_nope", arguments: {} }),
      request("tools/call", { name: "out_shape", arguments: { result: { content: [], structuredContent: { n: 1 } } } }),
      request("tools/call", { name: "out_shape", arguments: { result: { content: [], structuredContent: { n: "one" } } } }),
      request("tools/call", { name: "out_shape", arguments: { result: { content: [{ type: "text", text: "no structure" }] } } }),
      request("tools/call", { name: "out_shape", arguments: { result: { content: [], isError: true } } }),
      request("tools/call", { name: "out_shape", arguments: { result: null } }),
      request("tools/call", { name: "out_shape", arguments: { result: { resultType: "input_required", inputRequests: {} } } }),
      request("tools/list"),
    ];
    for (const c of cases) await expectSame(c);
    // Without the upstream's scope: the same 403 step-up challenge.
    const alice = await addSignedInUser(pair.lean, "narrow@example.com");
    const narrow = await grant(pair.base, alice.jar, undefined, "mcp");
    await expectSame(request("tools/call", { name: "up_echo", arguments: { text: "hi" } }), narrow.access);
  });

  it(
    "answers generated results identically, from the upstream and against an output schema",
    async () => {
      const calls = results.filter((s) => s.method === "tools/call");
      await fc.assert(
        fc.asyncProperty(calls, fc.constantFrom("up_shape", "out_shape"), async (s, name) => {
          await expectSame(request("tools/call", { ...s.params, name }));
        }),
        { numRuns: 100 },
      );
    },
    120_000,
  );

  it("serves proxied tools without the SDK path", async () => {
    const modern = pair.lean.running.services.mcp.modern;
    const sdkFetch = modern.fetch.bind(modern);
    let viaSdk = 0;
    modern.fetch = (...args) => {
      viaSdk++;
      return sdkFetch(...args);
    };
    try {
      for (let i = 0; i < 5; i++) await both(request("tools/call", { name: "up_echo", arguments: { text: String(i) } }, i));
      await both(request("tools/call", { name: "up_add", arguments: { a: 1, b: 2 } }));
      await both(request("tools/call", { name: "out_shape", arguments: { result: { content: [], structuredContent: { n: 1 } } } }));
      expect(viaSdk).toBe(0);
    } finally {
      modern.fetch = sdkFetch;
    }
  });
});
