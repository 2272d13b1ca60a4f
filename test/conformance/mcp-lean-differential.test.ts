/**
 * The lean 2026-07-28 dispatch against its oracle, the SDK path (issue 10;
 * PRODUCT §6 "MCP endpoint", §7): two servers over one database and one
 * public URL, one with the lean dispatch (the default) and one with
 * `leanDispatch: false`, get the same requests — generated (fast-check) and
 * hand-picked edge cases — over real HTTP, and must answer with the same
 * status, the same meaningful headers and the same body bytes. Then what only
 * shows over time: the lean server really skips the SDK for what it serves,
 * a revoked connection ends calls in flight the same way, and a handler that
 * needs the SDK mid-call is told so.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawPost, startPair, visible, type ServerPair } from "../helpers/differential.js";
import { leanPrompts, leanResources, leanTools } from "../helpers/lean-fixtures.js";
import { bentCalls, calls, request, results, toRaw, type Spec } from "../helpers/lean-requests.js";
import { addSignedInUser, deferred, grant, type Grant } from "../helpers/mcp-fixtures.js";
import { postForm } from "../helpers/oauth.js";
import { defineTool } from "../../src/index.js";

const RUNS = 300;
const PROPERTY_TIMEOUT = 300_000;

let release = deferred();
const started = { signal: deferred<AbortSignal>() };
const waitForRevoke = defineTool({
  name: "wait_for_revoke",
  description: "Holds the call until released, then reports its signal.",
  handler: async (_args, ctx) => {
    started.signal.resolve(ctx.signal);
    await release.promise;
    const reason = ctx.signal.reason as { code?: unknown; message?: unknown } | undefined;
    return { content: [{ type: "text", text: JSON.stringify({ aborted: ctx.signal.aborted, code: reason?.code, message: reason?.message }) }] };
  },
});

let pair: ServerPair;
let plain: Grant;
let wide: Grant;

const gatehouse = () => ({
  tools: [...leanTools, waitForRevoke],
  prompts: leanPrompts,
  resources: leanResources,
  server: { name: "differential", version: "9.9.9", instructions: "Compare me." },
});

beforeAll(async () => {
  pair = await startPair(gatehouse);
  const alice = await addSignedInUser(pair.lean, "alice@example.com");
  plain = await grant(pair.base, alice.jar);
  wide = await grant(pair.base, alice.jar, undefined, "mcp files:read");
});

afterAll(async () => {
  await pair?.close();
});

/** How long the SDK path gets before its silence counts as "no answer" (it never answers some results; see below). */
const SILENCE_MS = 1500;

/** Both servers' answers to one request, as the client sees them; `sdk` is null when the SDK path never answered. */
async function both(s: Spec, token = plain.access) {
  const raw = toRaw(s, token);
  const lean = visible(await rawPost(pair.lean, pair.base, raw));
  const answered = await rawPost(pair.sdk, pair.base, raw, SILENCE_MS);
  return { lean, sdk: answered && visible(answered) };
}

async function expectSame(s: Spec, token?: string): Promise<void> {
  const { lean, sdk } = await both(s, token);
  const label = `${s.method} ${(s.raw ?? JSON.stringify(s.params))?.slice(0, 400)}`;
  if (sdk === null) {
    // The one intended difference: where the SDK's transport drops the answer (a result whose `_meta` is
    // not an object, an error message that is not a string) and the client waits forever, lean says -32603.
    expect(lean.status, label).toBe(200);
    expect(JSON.parse(lean.body), label).toMatchObject({ jsonrpc: "2.0", error: { code: -32_603, message: "Internal error" } });
    return;
  }
  expect(lean, label).toEqual(sdk);
}

describe("lean dispatch ≡ SDK path (2026-07-28)", () => {
  it("answers hand-picked edge cases identically", async () => {
    const cases: Spec[] = [
      request("tools/call", { name: "echo", arguments: { text: "hi" } }),
      request("tools/call", { name: "echo", arguments: { text: "ünïcødé 😀 \u2028" } }),
      request("tools/call", { name: "echo", arguments: { text: "x".repeat(1_000_000) } }),
      request("tools/call", { name: "echo", arguments: {} }),
      request("tools/call", { name: "echo", arguments: { text: 5 } }),
      request("tools/call", { name: "echo" }),
      request("tools/call", { name: "whoami" }),
      request("tools/call", { name: "probe" }),
      request("tools/call", { name: "probe", _meta: { "x.example/trace": "t-1" } }),
      request("tools/call", { name: "push" }),
      request("tools/call", { name: "bare", arguments: { ignored: true } }),
      request("tools/call", { name: "strict", arguments: { n: -1, tag: "c", nested: { s: "toolong" } } }),
      request("tools/call", { name: "shape", arguments: { result: null } }),
      request("tools/call", { name: "shape", arguments: { result: { structuredContent: 42 } } }),
      request("tools/call", { name: "shape", arguments: { result: { content: [{ type: "text", text: "t", junk: 1 }], isError: false, more: { a: 1 } } } }),
      request("tools/call", { name: "shape", arguments: { result: { resultType: "input_required" } } }),
      request("tools/call", { name: "shape", arguments: { result: { resultType: "input_required", inputRequests: { a: { method: "roots/list" } } } } }),
      request("tools/call", { name: "shape", arguments: { result: { resultType: "input_required", requestState: "s", _meta: { k: 1 } } } }),
      request("tools/call", { name: "raise", arguments: { kind: "protocol", error: "url needed", code: -32_042 } }),
      request("tools/call", { name: "raise", arguments: { kind: "value", error: null } }),
      request("tools/call", { name: "scoped" }),
      request("tools/call", { name: "two_scopes" }),
      request("tools/call", { name: "nope" }),
      request("tools/call", { name: "constructor" }),
      request("prompts/get", { name: "greet", arguments: { name: "Ada" } }),
      request("prompts/get", { name: "greet", arguments: { name: "A" } }),
      request("prompts/get", { name: "plain" }),
      request("prompts/get", { name: "prompt_raise", arguments: { kind: "protocol", message: "m", code: "-32002" } }),
      request("prompts/get", { name: "prompt_shape", arguments: { json: "null" } }),
      request("prompts/get", { name: "prompt_shape", arguments: { json: '{"messages":[],"resultType":"weird"}' } }),
      request("resources/read", { uri: "test://static" }),
      request("resources/read", { uri: "test://item/7" }),
      request("resources/read", { uri: "test://shape/%7B%22contents%22%3A%5B%5D%2C%22ttlMs%22%3A5%2C%22cacheScope%22%3A%22public%22%7D" }),
      request("resources/read", { uri: "test://raise/protocol" }),
      request("resources/read", { uri: "test://scoped" }),
      request("resources/read", { uri: "test://nothing" }),
      request("tools/list"),
      request("tools/list"),
      request("server/discover"),
      request("server/discover"),
      request("prompts/list"),
      request("resources/list"),
      request("resources/templates/list"),
      request("tools/list", { cursor: "next" }),
    ];
    for (const c of cases) await expectSame(c);
    for (const c of cases.slice(0, 3)) await expectSame(c, wide.access);
    await expectSame(request("tools/call", { name: "two_scopes" }), wide.access);
    await expectSame(request("prompts/get", { name: "prompt_scoped" }), wide.access);
  });

  const families: [string, fc.Arbitrary<Spec>][] = [
    ["calls: arguments right and wrong, handlers that throw, scopes, unknown names", calls],
    ["results: whatever a handler returns, input_required against the declared capabilities", results],
    ["bent requests: envelope, standard headers, ids, params and body shape", bentCalls],
  ];
  for (const [family, requests] of families) {
    it(
      `answers generated ${family} identically: status, headers and body bytes`,
      async () => {
        await fc.assert(
          fc.asyncProperty(requests, fc.boolean(), async (s, useWide) => {
            await expectSame(s, useWide ? wide.access : plain.access);
          }),
          { numRuns: RUNS },
        );
      },
      PROPERTY_TIMEOUT,
    );
  }

  it("serves what it takes without the SDK, and leaves the rest to it", async () => {
    const modern = pair.lean.running.services.mcp.modern;
    const sdkFetch = modern.fetch.bind(modern);
    let viaSdk = 0;
    modern.fetch = (...args) => {
      viaSdk++;
      return sdkFetch(...args);
    };
    try {
      await both(request("tools/list"));
      const learned = viaSdk;
      for (let i = 0; i < 20; i++) await both(request("tools/call", { name: "echo", arguments: { text: String(i) } }, i));
      await both(request("tools/list"));
      await both(request("prompts/get", { name: "plain" }));
      await both(request("resources/read", { uri: "test://item/1" }));
      expect(viaSdk).toBe(learned);
      // Declared as needing the SDK, a tool is served by it on the lean server too; so is anything unknown.
      await both(request("tools/call", { name: "announce" }));
      await both(request("tools/call", { name: "nope" }));
      expect(viaSdk).toBe(learned + 2);
    } finally {
      modern.fetch = sdkFetch;
    }
  });
});

describe("what the lean dispatch does over time", () => {
  it("ends a call in flight when its connection is revoked, as the SDK path does (499, signal aborted)", async () => {
    const seen: { status: number; body: string; signal: string }[] = [];
    for (const server of [pair.lean, pair.sdk]) {
      const user = await addSignedInUser(pair.lean, `revoke-${seen.length}@example.com`);
      const mine = await grant(pair.base, user.jar);
      release = deferred();
      started.signal = deferred<AbortSignal>();
      const answer = rawPost(server, pair.base, toRaw(request("tools/call", { name: "wait_for_revoke" }), mine.access));
      const signal = await started.signal.promise;
      // Each server hears of revocations on its own (in-process bus on PGlite): revoke where the call runs.
      const revoked = await postForm(`${server.running.url}/oauth/revoke`, { token: mine.refresh, client_id: mine.client.client_id });
      expect(revoked.status).toBe(200);
      await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener("abort", () => resolve(), { once: true })));
      const reason = signal.reason as { code?: unknown; message?: unknown };
      release.resolve();
      const { status, body } = await answer;
      seen.push({ status, body, signal: JSON.stringify({ code: reason.code, message: reason.message }) });
    }
    expect(seen[0]).toEqual(seen[1]);
    expect(seen[0]!.status).toBe(499);
  });

  it("tells a handler that writes mid-call without sdkDispatch how to fix it", async () => {
    const { lean, sdk } = await both(request("tools/call", { name: "announce_undeclared" }));
    expect(sdk?.headers["content-type"]).toBe("text/event-stream");
    expect(lean.status).toBe(200);
    expect(lean.body).toContain('"isError":true');
    expect(lean.body).toContain("sdkDispatch: true");
  });
});
