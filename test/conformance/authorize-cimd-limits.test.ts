/**
 * Metadata-document fetches are bounded and say nothing about the network
 * (issue 9, 6; THREATS 26, 30, 32): at most 20 new documents a minute per
 * source address (a cached one costs nothing; counted in the database, so
 * across nodes), at most 8 fetches in flight per node (more wait up to 2 s,
 * then get a "try again" page), and a document that cannot be used gets one
 * generic page whatever the reason — the reason goes to the log.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/logger.js";
import { unlimited } from "../../src/storage/rate-limit.js";
import { drivers } from "../helpers/databases.js";
import { openAuthorize, pkce, startHttpsFixture, visibleText, type HttpsFixture } from "../helpers/oauth.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const CALLBACK = "http://127.0.0.1:7777/cb";
const GENERIC = "The application's metadata document could not be used.";

let fixture: HttpsFixture;
/** Requests to /…/hang/… the fixture holds open right now, and the most at once. */
let hanging = 0;
let maxHanging = 0;

function documents(req: IncomingMessage, res: ServerResponse, port: number) {
  const path = req.url ?? "/";
  if (path.includes("/hang/")) {
    hanging++;
    maxHanging = Math.max(maxHanging, hanging);
    req.socket.once("close", () => hanging--);
    return; // never answers: the server's fetch times out
  }
  if (path.endsWith("/missing.json")) {
    res.writeHead(404);
    return res.end();
  }
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ client_id: `https://localhost:${port}${path}`, client_name: "Fixture App", redirect_uris: [CALLBACK] }));
}

beforeAll(async () => {
  fixture = await startHttpsFixture(documents);
});
afterAll(async () => fixture?.close());

for (const driver of drivers()) {
  describe(`metadata-document fetch limits (${driver})`, () => {
    const request = (base: string, clientId: string) => ({
      response_type: "code", client_id: clientId, redirect_uri: CALLBACK, code_challenge: pkce().challenge,
      code_challenge_method: "S256", state: "s", resource: `${base}/mcp`,
    });
    const open = (server: TestServer, clientId: string, ip: string) =>
      openAuthorize(server.base, null, request(server.base, clientId), { "x-forwarded-for": ip });
    const doc = (name: string) => `https://localhost:${fixture.port}/${driver}/${name}`;
    /** Verified client, signed out: on to sign-in. */
    const expectAccepted = async (response: Response, label: string) => {
      await response.body?.cancel();
      expect(response.status, label).toBe(303);
      expect(response.headers.get("location"), label).toMatch(/^\/login\?/);
    };

    it("per address: 20 new documents a minute, then a 429 'try again' page with Retry-After and no fetch; cached documents and other addresses are unaffected", async () => {
      // rateLimits {}: the production limits (only cimdFetch applies to signed-out authorization requests).
      const first = await startTestServer(driver, {
        config: { cimdAllowHosts: ["localhost"], trustProxy: true },
        appDeps: { cimd: { ca: fixture.cert }, rateLimits: {} },
      });
      // On PostgreSQL a second node shares the count.
      const servers = driver === "postgres"
        ? [first, await startTestServer(driver, {
          testDb: first.testDb, config: { cimdAllowHosts: ["localhost"], trustProxy: true },
          appDeps: { cimd: { ca: fixture.cert }, rateLimits: {} },
        })]
        : [first];
      try {
        for (let i = 0; i < 20; i++) {
          await expectAccepted(await open(servers[i % servers.length]!, doc(`per-address/${i}.json`), "203.0.113.50"), `new document ${i + 1}`);
        }
        for (const server of servers) {
          const refused = await open(server, doc("per-address/21.json"), "203.0.113.50");
          const html = await refused.text();
          expect(refused.status).toBe(429);
          expect(refused.headers.get("location")).toBeNull();
          expect(refused.headers.get("content-type")).toMatch(/^text\/html/);
          expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
          expect(Number(refused.headers.get("retry-after"))).toBeLessThanOrEqual(60);
          expect(visibleText(html)).toMatch(/Try again/);
        }
        expect(fixture.hits.get(`/${driver}/per-address/21.json`), "the refused document was never fetched").toBeUndefined();
        await expectAccepted(await open(servers.at(-1)!, doc("per-address/0.json"), "203.0.113.50"), "a cached document");
        await expectAccepted(await open(servers.at(-1)!, doc("per-address/21.json"), "198.51.100.50"), "another address");
      } finally {
        for (const server of [...servers].reverse()) await server.close();
      }
    }, 90_000);

    it("per node: at most 8 fetches in flight; more wait briefly, then get a 503 'try again' page", async () => {
      const server = await startTestServer(driver, {
        config: { cimdAllowHosts: ["localhost"] },
        appDeps: { cimd: { ca: fixture.cert, timeoutMs: 4000 }, rateLimits: { cimdFetch: unlimited } },
      });
      try {
        maxHanging = 0;
        const responses = await Promise.all(
          Array.from({ length: 12 }, async (_, i) => {
            const response = await open(server, doc(`hang/${i}.json`), "127.0.0.1");
            return { status: response.status, retryAfter: response.headers.get("retry-after"), text: visibleText(await response.text()) };
          }),
        );
        expect(maxHanging, "fetches the fixture saw at once").toBe(8);
        const busy = responses.filter((r) => r.status === 503);
        const failed = responses.filter((r) => r.status === 400);
        expect(busy).toHaveLength(4);
        expect(failed).toHaveLength(8);
        for (const r of busy) {
          expect(r.retryAfter).toMatch(/^\d+$/);
          expect(r.text).toMatch(/busy.*Try again/);
        }
        for (const r of failed) expect(r.text).toContain(GENERIC);
      } finally {
        await server.close();
      }
    }, 60_000);

    it("a document that cannot be used gets one generic page, whatever failed; the reason is logged", async () => {
      const lines: string[] = [];
      const server = await startTestServer(driver, {
        config: { cimdAllowHosts: ["localhost"] },
        appDeps: { cimd: { ca: fixture.cert, timeoutMs: 1500 } },
        logger: createLogger({ level: "debug", write: (line) => lines.push(line) }),
      });
      try {
        const failures: [string, string, RegExp][] = [
          ["a host that does not resolve", "https://gatehouse-test.invalid/client.json", /fetch_failed/],
          ["a refused port", "https://localhost:1/client.json", /fetch_failed/],
          ["a private address", "https://10.0.0.1/client.json", /blocked_address/],
          ["a 404", doc("generic/missing.json"), /HTTP 404/],
          ["a timeout", doc("hang/generic.json"), /timed out/],
        ];
        const pages = new Set<string>();
        for (const [label, clientId, logged] of failures) {
          const response = await open(server, clientId, "127.0.0.1");
          const text = visibleText(await response.text());
          expect(response.status, label).toBe(400);
          expect(text, label).toContain(GENERIC);
          expect(text, label).not.toMatch(/invalid|localhost|:1\b|10\.0\.0\.1|404|timed|resolve|refused|private|TLS|connection/i);
          pages.add(text);
          const line = lines.find((l) => l.includes("metadata document refused") && l.includes(clientId));
          expect(line, `${label} is logged`).toMatch(logged);
        }
        expect(pages.size, "every failure shows the same page").toBe(1);
      } finally {
        await server.close();
      }
    }, 60_000);
  });
}
