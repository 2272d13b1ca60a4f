/**
 * Bearer authentication at /mcp (RFC 6750, RFC 9728 §5.1, MCP authorization):
 * SPEC-CHECKLIST RS-1..RS-11 and THREATS 38-43. "Accepted" means the bearer
 * check let the request through: any status but 401 (the MCP transport behind
 * it is not what this suite tests).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { drivers } from "../helpers/databases.js";
import {
  connect,
  mcpBearerStatus,
  mcpBearerStatusOnNode,
  mcpStatusAfterRevocation,
  mcpStatusAfterRevocationOnNode,
  postForm,
  registerClient,
  signIn,
  type CookieJar,
} from "../helpers/oauth.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

interface Challenge {
  scheme: string;
  params: Map<string, string>;
}

/**
 * Parses one RFC 7235 challenge (`Bearer k="v", k2=token`) and fails the test
 * on bad syntax or on an attribute given twice (RS-10, RFC 6750 §3).
 */
function parseChallenge(header: string | null): Challenge {
  expect(header, "WWW-Authenticate is present").toBeTruthy();
  const match = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?:\s+([\s\S]*))?$/.exec(header!.trim());
  expect(match, `challenge syntax: ${header}`).not.toBeNull();
  const params = new Map<string, string>();
  const rest = match![2] ?? "";
  const attribute = /\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([!#$%&'*+.^_`|~0-9A-Za-z-]+))\s*(?:,|$)/y;
  while (attribute.lastIndex < rest.length) {
    const start = attribute.lastIndex;
    const found = attribute.exec(rest);
    expect(found, `challenge attribute at "${rest.slice(start)}"`).not.toBeNull();
    const name = found![1]!.toLowerCase();
    expect(params.has(name), `attribute ${name} appears more than once in: ${header}`).toBe(false);
    params.set(name, found![2] !== undefined ? found![2].replace(/\\(.)/g, "$1") : found![3]!);
  }
  return { scheme: match![1]!, params };
}

for (const driver of drivers()) {
  describe(`bearer authentication at /mcp (${driver})`, () => {
    const clock = new ManualClock(Date.now());
    let server: TestServer;
    let base: string;
    let alice: CookieJar;
    let clients = 0;

    beforeAll(async () => {
      server = await startTestServer(driver, { clock });
      base = server.base;
      await server.addUser("alice@example.com", "alice's long password");
      alice = await signIn(base, "alice@example.com", "alice's long password");
    });
    afterAll(async () => server?.close());

    const metadataUrl = () => `${base}/.well-known/oauth-protected-resource/mcp`;
    const connected = async () => {
      const client = await registerClient(base, { client_name: `bearer-test-${++clients}` });
      return { client, tokens: (await connect(base, alice, client)).tokens };
    };
    const mcp = async (init: { method?: string; headers?: Record<string, string>; query?: string; body?: string } = {}) => {
      const response = await fetch(`${base}/mcp${init.query ?? ""}`, {
        method: init.method ?? "POST",
        headers: {
          accept: "application/json, text/event-stream",
          ...(init.method === "GET" || init.method === "DELETE" ? {} : { "content-type": "application/json" }),
          ...init.headers,
        },
        ...(init.method === "GET" || init.method === "DELETE"
          ? {}
          : { body: init.body ?? JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }) }),
      });
      await response.body?.cancel();
      return response;
    };
    /** RS-2 / THREATS 40: no usable credentials → a bare challenge, no error attribute. */
    const expectBareChallenge = (response: Response) => {
      expect(response.status).toBe(401);
      const challenge = parseChallenge(response.headers.get("www-authenticate"));
      expect(challenge.scheme).toMatch(/^Bearer$/i);
      expect(challenge.params.get("resource_metadata")).toBe(metadataUrl());
      expect(challenge.params.has("error"), "no error= without credentials").toBe(false);
      return challenge;
    };
    /** RS-3: a presented but unusable token → error="invalid_token". */
    const expectInvalidToken = (response: Response) => {
      expect(response.status).toBe(401);
      const challenge = parseChallenge(response.headers.get("www-authenticate"));
      expect(challenge.scheme).toMatch(/^Bearer$/i);
      expect(challenge.params.get("error")).toBe("invalid_token");
      expect(challenge.params.get("resource_metadata")).toBe(metadataUrl());
      return challenge;
    };

    describe("requests without usable credentials (RS-1, RS-2, PRM-6; THREATS 40, 42)", () => {
      it("answers a request without Authorization with 401 and a bare challenge naming the metadata and scope", async () => {
        const challenge = expectBareChallenge(await mcp());
        const scopes = (challenge.params.get("scope") ?? "").split(" ");
        expect(scopes).toContain("mcp");
        // PRODUCT §6: challenges never list offline_access.
        expect(scopes).not.toContain("offline_access");
      });

      it("challenges GET and DELETE the same way: every request needs the token", async () => {
        expectBareChallenge(await mcp({ method: "GET", headers: { accept: "text/event-stream" } }));
        expectBareChallenge(await mcp({ method: "DELETE", headers: { "mcp-session-id": "some-session" } }));
      });

      it("treats another scheme as no credentials: 401 without error", async () => {
        expectBareChallenge(await mcp({ headers: { authorization: "Basic dXNlcjpwYXNz" } }));
      });

      it("ignores a valid token in the query string (OAuth 2.1 §5.1, THREATS 42)", async () => {
        const { tokens } = await connected();
        expectBareChallenge(await mcp({ query: `?access_token=${encodeURIComponent(tokens.access_token)}` }));
      });

      it("ignores a valid token in a form body (bearer_methods_supported is header only)", async () => {
        const { tokens } = await connected();
        const response = await fetch(`${base}/mcp`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json, text/event-stream" },
          body: new URLSearchParams({ access_token: tokens.access_token }),
        });
        await response.body?.cancel();
        expectBareChallenge(response);
      });

      it("builds resource_metadata from the configured URL, not from forwarded headers (THREATS 43)", async () => {
        const response = await mcp({ headers: { "x-forwarded-host": "evil.example", "x-forwarded-proto": "https" } });
        expectBareChallenge(response);
      });
    });

    describe("tokens that are not valid access tokens (RS-3, RS-6, RS-7; PRODUCT §6)", () => {
      it("answers Bearer garbage with 401 error=\"invalid_token\"", async () => {
        expectInvalidToken(await mcp({ headers: { authorization: "Bearer garbage" } }));
        expectInvalidToken(await mcp({ headers: { authorization: `Bearer gha_${"A".repeat(43)}` } }));
      });

      it("refuses a malformed bearer header with 401 (or 400 invalid_request)", async () => {
        for (const header of ["Bearer", "Bearer ", "Bearer a b", "Bearer \u00e9t\u00e9"]) {
          const response = await mcp({ headers: { authorization: header } }).catch(() => null);
          if (response === null) continue; // a header fetch itself refuses to send
          expect([400, 401], header).toContain(response.status);
          if (response.status === 401) expect(parseChallenge(response.headers.get("www-authenticate")).params.get("resource_metadata")).toBe(metadataUrl());
        }
      });

      it("never accepts a refresh token as a bearer token", async () => {
        const { tokens } = await connected();
        expectInvalidToken(await mcp({ headers: { authorization: `Bearer ${tokens.refresh_token}` } }));
      });

      it("never accepts a client secret as a bearer token", async () => {
        const client = await registerClient(base, { client_name: `bearer-secret-${++clients}`, token_endpoint_auth_method: "client_secret_basic" });
        expectInvalidToken(await mcp({ headers: { authorization: `Bearer ${client.client_secret!}` } }));
      });

      it("refuses a revoked access token with 401 invalid_token", async () => {
        const { client, tokens } = await connected();
        expect(await mcpBearerStatus(base, tokens.access_token)).not.toBe(401);
        const revoked = await postForm(`${base}/oauth/revoke`, { token: tokens.access_token, client_id: client.client_id });
        expect(revoked.status).toBe(200);
        expect(await mcpStatusAfterRevocation(base, tokens.access_token)).toBe(401);
        expectInvalidToken(await mcp({ headers: { authorization: `Bearer ${tokens.access_token}` } }));
      });

      it("accepts an access token until it expires after an hour, then refuses it with invalid_token", async () => {
        const { tokens } = await connected();
        expect(await mcpBearerStatus(base, tokens.access_token)).not.toBe(401);
        clock.advance(3590_000);
        expect(await mcpBearerStatus(base, tokens.access_token)).not.toBe(401);
        clock.advance(11_000);
        expectInvalidToken(await mcp({ headers: { authorization: `Bearer ${tokens.access_token}` } }));
        alice = await signIn(base, "alice@example.com", "alice's long password");
      });

      it("does not start a session for a bad token (THREATS 41)", async () => {
        const response = await mcp({
          headers: { authorization: "Bearer anything" },
          body: JSON.stringify({
            jsonrpc: "2.0",
            id: 1,
            method: "initialize",
            params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } },
          }),
        });
        expectInvalidToken(response);
        expect(response.headers.get("mcp-session-id")).toBeNull();
      });
    });

    describe("valid access tokens (RS-1, RS-6)", () => {
      it("accepts a valid access token in the Authorization header", async () => {
        const { tokens } = await connected();
        expect(await mcpBearerStatus(base, tokens.access_token)).not.toBe(401);
      });

      it("matches the scheme name case-insensitively (RFC 7235 §2.1)", async () => {
        const { tokens } = await connected();
        const lower = await mcp({ headers: { authorization: `bearer ${tokens.access_token}` } });
        expect(lower.status).not.toBe(401);
        const upper = await mcp({ headers: { authorization: `BEARER ${tokens.access_token}` } });
        expect(upper.status).not.toBe(401);
      });

      it("keeps accepting a token whatever happens to other connections", async () => {
        const first = await connected();
        const second = await connected();
        const revoked = await postForm(`${base}/oauth/revoke`, { token: second.tokens.refresh_token, client_id: second.client.client_id });
        expect(revoked.status).toBe(200);
        expect(await mcpStatusAfterRevocation(base, second.tokens.access_token)).toBe(401);
        expect(await mcpBearerStatus(base, first.tokens.access_token)).not.toBe(401);
      });
    });

    // PRODUCT §6-7: token checks may be cached per node, but a revocation reaches every node within 1 s.
    if (driver === "postgres") {
      describe("revocation across nodes (PRODUCT §6: 401 on every node within 1 s)", () => {
        let nodeB: TestServer;
        let urlB: string;
        beforeAll(async () => {
          nodeB = await startTestServer(driver, { clock, testDb: server.testDb, config: { publicUrl: server.base } });
          urlB = nodeB.running.url;
        });
        afterAll(async () => nodeB?.close());

        /** A connection whose access token both nodes have just accepted (and may have cached). */
        const warm = async () => {
          const { client, tokens } = await connected();
          expect(await mcpBearerStatus(base, tokens.access_token)).not.toBe(401);
          expect(await mcpBearerStatusOnNode(urlB, base, tokens.access_token)).not.toBe(401);
          return { client, tokens };
        };
        const expectDeadOnBothNodes = async (token: string) => {
          expect(await mcpStatusAfterRevocationOnNode(urlB, base, token), "the other node").toBe(401);
          expect(await mcpStatusAfterRevocation(base, token), "the node that revoked").toBe(401);
        };

        it("revoking an access token on one node", async () => {
          const { client, tokens } = await warm();
          expect((await postForm(`${base}/oauth/revoke`, { token: tokens.access_token, client_id: client.client_id })).status).toBe(200);
          await expectDeadOnBothNodes(tokens.access_token);
        });

        it("revoking the refresh token (the connection) on one node", async () => {
          const { client, tokens } = await warm();
          expect((await postForm(`${base}/oauth/revoke`, { token: tokens.refresh_token, client_id: client.client_id })).status).toBe(200);
          await expectDeadOnBothNodes(tokens.access_token);
        });

        it("refresh-token reuse detected on one node", async () => {
          const { client, tokens } = await warm();
          const refresh = (token: string) => postForm(`${base}/oauth/token`, { grant_type: "refresh_token", refresh_token: token, client_id: client.client_id });
          const second = (await refresh(tokens.refresh_token)).json as { refresh_token: string; access_token: string };
          expect(await mcpBearerStatusOnNode(urlB, base, second.access_token)).not.toBe(401);
          expect((await refresh(second.refresh_token)).status).toBe(200);
          expect((await refresh(tokens.refresh_token)).status).toBe(400);
          await expectDeadOnBothNodes(tokens.access_token);
          await expectDeadOnBothNodes(second.access_token);
        });

        it("a new authorization replacing the connection on one node", async () => {
          const { client, tokens } = await warm();
          await connect(base, alice, client);
          await expectDeadOnBothNodes(tokens.access_token);
        });
      });
    }
  });
}
