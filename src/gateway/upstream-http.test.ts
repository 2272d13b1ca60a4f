/**
 * What an HTTP upstream receives from `Upstream`: each call's own caller in
 * the identity headers, even when calls of several users overlap on the one
 * client; the static headers on every request; an identity header name never
 * filled from the static headers; and nothing of the private header that
 * names a call inside Gatehouse.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../clock.js";
import { silentLogger } from "../logger.js";
import { startHttpUpstream, type HttpUpstream } from "../../test/fixtures/upstream-http.js";
import { parseGatewayConfig } from "./config.js";
import { Upstream } from "./upstream.js";

let server: HttpUpstream;
let upstream: Upstream;

beforeAll(async () => {
  server = await startHttpUpstream();
  const [config] = parseGatewayConfig({
    upstreams: [
      {
        name: "remote",
        url: server.url,
        // A static header under an identity header's name is the caller's or nothing, never this value.
        headers: { "X-Upstream-Key": "static-key", "X-Gatehouse-User-Id": "spoofed" },
        identityHeaders: { userId: "X-Gatehouse-User-Id", email: "X-Gatehouse-Email", scopes: "X-Gatehouse-Scopes", clientId: "X-Gatehouse-Client" },
      },
    ],
  });
  upstream = new Upstream(config!, silentLogger, systemClock);
  await upstream.listTools();
});

afterAll(async () => {
  await upstream?.close();
  await server?.close();
});

describe("Upstream over Streamable HTTP", () => {
  it("sends each call its caller's identity headers, the static headers, and no internal header", async () => {
    const callers = Array.from({ length: 8 }, (_, i) => ({ userId: `u${i % 3}`, email: `u${i % 3}@example.com`, scopes: ["mcp", `s${i}`], clientId: `c${i}` }));
    const results = await Promise.all(
      callers.map((caller, i) => upstream.callTool("echo", { text: String(i) }, caller, { signal: new AbortController().signal })),
    );
    results.forEach((result, i) => expect(result.content).toEqual([{ type: "text", text: `remote echo: ${i} (for ${callers[i]!.userId})` }]));
    const calls = server.received.filter((headers) => headers.get("x-gatehouse-client") !== null);
    expect(calls).toHaveLength(callers.length);
    for (const headers of calls) {
      const caller = callers.find((c) => c.clientId === headers.get("x-gatehouse-client"))!;
      expect(headers.get("x-gatehouse-user-id")).toBe(caller.userId);
      expect(headers.get("x-gatehouse-email")).toBe(caller.email);
      expect(headers.get("x-gatehouse-scopes")).toBe(caller.scopes.join(" "));
    }
    for (const headers of server.received) {
      expect(headers.get("x-upstream-key")).toBe("static-key");
      expect(headers.get("x-gatehouse-user-id")).not.toBe("spoofed");
      expect([...headers.keys()].filter((name) => name.includes("internal"))).toEqual([]);
    }
    // Gatehouse's own requests (the handshake, listing tools) name nobody.
    expect(server.received[0]!.get("x-gatehouse-user-id")).toBeNull();
  });
});
