/**
 * Pre-registered clients (issue 9, 8): `gatehouse client add|list|remove`,
 * for MCP clients configured with a fixed client_id. Added by the CLI while a
 * server runs (PGlite: through its admin socket; PostgreSQL: the CLI opens
 * the database) and with none running; used for a real authorization-code +
 * PKCE flow over HTTP; never purged for being unused, nor removed with their
 * last connection; removed only by `client remove`, which ends their tokens.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { localAdmin } from "../../src/admin.js";
import { ManualClock } from "../../src/clock.js";
import {
  createCliDatabase, expectOneLineError, killAll, removeTempDirs, run, startServer, tempDir, waitExit, type Child, type Env,
} from "../helpers/cli.js";
import { drivers } from "../helpers/databases.js";
import {
  authorizeForCode, basicAuth, connect, mcpBearerStatus, mcpStatusAfterRevocation, openAuthorize, pkce, postForm, registerClient,
  signIn, tokenRequest, visibleText, type ClientRegistration, type CookieJar,
} from "../helpers/oauth.js";
import { freePort, startTestServer, type TestServer } from "../helpers/server.js";

const PASSWORD = "correct horse battery";
const CLIENT_ID = /^client_id: (gh_[0-9a-f]{32})$/m;
const SECRET = /^client_secret: (ghs_[A-Za-z0-9_-]+)$/m;

afterAll(async () => {
  await killAll();
  await removeTempDirs();
});

describe.concurrent("client commands: help and usage", { timeout: 240_000 }, () => {
  it("`gatehouse --help` lists the client commands", async () => {
    const result = await run(["--help"], {});
    expect(result.code).toBe(0);
    for (const command of ["client add", "client list", "client remove"]) expect(result.stdout).toContain(command);
  });

  it.each([
    [["client", "--help"], /^Usage: gatehouse client </],
    [["client", "add", "--help"], /^Usage: gatehouse client add --name/],
    [["client", "list", "-h"], /^Usage: gatehouse client list/],
    [["client", "remove", "--help"], /^Usage: gatehouse client remove /],
  ])("`gatehouse %s` prints its usage, exit 0", async (args, usage) => {
    const result = await run(args, { GATEHOUSE_DATA_DIR: await tempDir() });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(usage);
    expect(result.stderr).toBe("");
  });

  it.each([
    [["client"], /^$/],
    [["client", "frob"], /unknown client command "frob"/],
    [["client", "add", "--redirect-uri", "https://app.example/cb"], /--name is required/],
    [["client", "add", "--name", "App"], /at least one --redirect-uri is required/],
    [["client", "add", "--name", "App", "--redirect-uri", "https://app.example/cb", "--public", "--confidential"], /exclude each other/],
    [["client", "add", "--name", "App", "--redirect-uri", "https://app.example/cb", "--secret", "x"], /secret/],
    [["client", "remove"], /expected 1 argument, got 0/],
  ])("`gatehouse %s` exits 2", async (args, pattern) => {
    const result = await run(args, { GATEHOUSE_DATA_DIR: await tempDir() });
    expect(result.code).toBe(2);
    if (args.length === 1) expect(result.stdout).toMatch(/^Usage: gatehouse client /);
    else {
      expectOneLineError(result.stderr, pattern);
      expect(result.stderr).toContain("Usage: gatehouse client");
    }
  });
});

function clientFlow(driver: "pglite" | "postgres", makeDatabase: () => Promise<{ url?: string; drop(): Promise<void> }>) {
  describe(`pre-registered clients by CLI on ${driver}`, { timeout: 240_000 }, () => {
    let env: Env;
    let base: string;
    let server: Child | undefined;
    let drop: () => Promise<void> = async () => {};
    let jar: CookieJar;
    let inspector: ClientRegistration;
    let inspectorTokens: { access_token: string; refresh_token: string };
    const cli = (args: string[], stdin?: string) => run(args, env, stdin);
    const authorizePage = async (clientId: string, redirectUri: string) => {
      const response = await openAuthorize(base, jar, {
        response_type: "code", client_id: clientId, redirect_uri: redirectUri, code_challenge: pkce().challenge,
        code_challenge_method: "S256", state: "s", resource: `${base}/mcp`,
      });
      return { status: response.status, text: visibleText(await response.text()) };
    };

    beforeAll(async () => {
      const database = await makeDatabase();
      drop = () => database.drop();
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      env = {
        GATEHOUSE_DATA_DIR: await tempDir(), PORT: String(port), GATEHOUSE_PUBLIC_URL: base,
        ...(database.url ? { DATABASE_URL: database.url } : {}),
      };
      server = await startServer(env);
      const added = await cli(["user", "add", "alice@example.com", "--password-stdin"], `${PASSWORD}\n`);
      expect(added.code, added.stderr).toBe(0);
      jar = await signIn(base, "alice@example.com", PASSWORD);
    });
    afterAll(async () => {
      await killAll();
      await drop();
    });

    it("client add (public by default) prints a client_id and no secret; an authorization-code + PKCE flow completes with it", async () => {
      const result = await cli([
        "client", "add", "--name", "MCP Inspector",
        "--redirect-uri", "http://localhost:6274/oauth/callback", "--redirect-uri", "http://localhost:6274/oauth/callback/debug",
      ]);
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      expect(result.stdout).toContain("Added MCP Inspector (public client).");
      expect(result.stdout).toContain("token_endpoint_auth_method: none");
      expect(result.stdout).not.toMatch(/secret/i);
      inspector = { client_id: CLIENT_ID.exec(result.stdout)![1]!, redirect_uris: ["http://localhost:6274/oauth/callback"] };

      const page = await authorizePage(inspector.client_id, "http://localhost:6274/oauth/callback");
      expect(page.status).toBe(200);
      expect(page.text).toContain("MCP Inspector");
      expect(page.text).toContain("Registered by this server's administrator.");
      // RFC 8252 §7.3: any port on a loopback redirect; connect() runs PKCE and redeems the code.
      const { tokens } = await connect(base, jar, { ...inspector, redirect_uris: ["http://localhost:49152/oauth/callback"] });
      inspectorTokens = tokens;
      expect(await mcpBearerStatus(base, tokens.access_token)).not.toBe(401);
    });

    it("client add --confidential prints the secret once; the code is redeemed only with it (client_secret_basic)", async () => {
      const result = await cli(["client", "add", "--name", "Mastra Agent", "--redirect-uri", "https://agent.example/callback", "--confidential"]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain("Added Mastra Agent (confidential client).");
      expect(result.stdout).toContain("token_endpoint_auth_method: client_secret_basic");
      const clientId = CLIENT_ID.exec(result.stdout)![1]!;
      const secret = SECRET.exec(result.stdout)![1]!;
      const client = { client_id: clientId, redirect_uris: ["https://agent.example/callback"] };
      const redeem = async (headers: Record<string, string>) => {
        const { code, verifier, redirectUri } = await authorizeForCode(base, jar, client);
        const params = { grant_type: "authorization_code", code, code_verifier: verifier, redirect_uri: redirectUri, resource: `${base}/mcp` };
        return tokenRequest(base, headers.authorization ? params : { ...params, client_id: clientId }, headers);
      };
      const without = await redeem({});
      expect(without.status).toBe(401);
      expect(without.body.error).toBe("invalid_client");
      const wrong = await redeem({ authorization: basicAuth(clientId, "ghs_wrong") });
      expect(wrong.status).toBe(401);
      const right = await redeem({ authorization: basicAuth(clientId, secret) });
      expect(right.status, JSON.stringify(right.body)).toBe(200);
      expect(right.body.access_token).toEqual(expect.any(String));
      expect((await cli(["client", "list", "--json"])).stdout).not.toContain(secret);
    });

    it.each([
      ["http://evil.example/cb", /http redirect_uri must use a loopback host/],
      ["javascript:alert(1)", /scheme is not allowed/],
      ["https://app.example/cb#frag", /fragment/],
      ["myapp:/cb", /scheme is not allowed/],
    ])("client add refuses the redirect URI %s as registration does: exit 1, one line", async (uri, reason) => {
      const result = await cli(["client", "add", "--name", "Bad", "--redirect-uri", "https://ok.example/cb", "--redirect-uri", uri]);
      expect(result.code).toBe(1);
      expectOneLineError(result.stderr, reason);
      expect(result.stdout).toBe("");
    });

    it("client add refuses a name that could disguise the client", async () => {
      const result = await cli(["client", "add", "--name", "Good\u202eevil", "--redirect-uri", "https://ok.example/cb"]);
      expect(result.code).toBe(1);
      expectOneLineError(result.stderr, /name/);
    });

    it("client list shows the clients with their source; --json too, without secrets", async () => {
      const text = await cli(["client", "list"]);
      expect(text.code).toBe(0);
      expect(text.stdout).toMatch(new RegExp(`^${inspector.client_id}\\tstatic\\tpublic\\t"MCP Inspector"\\thttp://localhost:6274/oauth/callback `, "m"));
      expect(text.stdout).toMatch(/\tstatic\tconfidential\t"Mastra Agent"\thttps:\/\/agent\.example\/callback$/m);
      const json = JSON.parse((await cli(["client", "list", "--json"])).stdout) as Record<string, unknown>[];
      const listed = json.find((c) => c.clientId === inspector.client_id);
      expect(listed).toMatchObject({ source: "static", name: "MCP Inspector", tokenEndpointAuthMethod: "none" });
      for (const client of json) expect(Object.keys(client).some((k) => /secret/i.test(k))).toBe(false);
    });

    it("revoking its last connection does not remove a pre-registered client", async () => {
      const revoked = await postForm(`${base}/oauth/revoke`, { token: inspectorTokens.refresh_token, client_id: inspector.client_id });
      expect(revoked.status).toBe(200);
      expect(await mcpStatusAfterRevocation(base, inspectorTokens.access_token)).toBe(401);
      expect((await authorizePage(inspector.client_id, "http://localhost:6274/oauth/callback")).status).toBe(200);
      inspectorTokens = (await connect(base, jar, inspector)).tokens;
    });

    it("client remove removes it: its tokens stop working, authorize says Unknown application, a second remove fails", async () => {
      const result = await cli(["client", "remove", inspector.client_id]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain(`Removed ${inspector.client_id} (MCP Inspector)`);
      expect(await mcpStatusAfterRevocation(base, inspectorTokens.access_token, 2000)).toBe(401);
      const refresh = await postForm(`${base}/oauth/token`, {
        grant_type: "refresh_token", refresh_token: inspectorTokens.refresh_token, client_id: inspector.client_id,
      });
      expect(refresh.status).toBe(401);
      const page = await authorizePage(inspector.client_id, "http://localhost:6274/oauth/callback");
      expect(page.status).toBe(400);
      expect(page.text).toContain("Unknown application");
      expect((await cli(["client", "list"])).stdout).not.toContain(inspector.client_id);
      const again = await cli(["client", "remove", inspector.client_id]);
      expect(again.code).toBe(1);
      expectOneLineError(again.stderr, new RegExp(`No client ${inspector.client_id}`));
    });

    it("with no server running, client add, list and remove open the data directly", async () => {
      server!.process.kill("SIGTERM");
      expect(await waitExit(server!, 15_000)).toBe(0);
      const added = await cli(["client", "add", "--name", "Offline", "--redirect-uri", "https://offline.example/cb"]);
      expect(added.code, added.stderr).toBe(0);
      const clientId = CLIENT_ID.exec(added.stdout)![1]!;
      const list = await cli(["client", "list"]);
      expect(list.stdout).toContain(clientId);
      expect(list.stdout).toContain("Mastra Agent");
      server = await startServer(env);
      jar = await signIn(base, "alice@example.com", PASSWORD);
      expect((await authorizePage(clientId, "https://offline.example/cb")).status, "the restarted server knows it").toBe(200);
      server.process.kill("SIGTERM");
      expect(await waitExit(server, 15_000)).toBe(0);
      expect((await cli(["client", "remove", clientId])).code).toBe(0);
    });
  });
}

clientFlow("pglite", async () => ({ drop: async () => {} }));
describe.runIf(inject("pgAdminUrl") !== null)("on PostgreSQL", () => {
  clientFlow("postgres", async () => (await createCliDatabase())!);
});

for (const driver of drivers()) {
  describe(`pre-registered clients survive the unused-client purge (${driver})`, () => {
    const DAY = 24 * 60 * 60_000;
    const clock = new ManualClock(Date.now());
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(driver, { clock });
      await server.addUser("purge@example.com", PASSWORD);
    });
    afterAll(async () => server?.close());

    it("31 days unused, with no connection: the dynamic client is purged, the pre-registered one stays", async () => {
      const ops = localAdmin({
        database: server.testDb.database, kv: server.running.deps.kv, publicUrl: server.base, revocation: server.running.services.revocation, clock,
      });
      const { client } = await ops.addClient({ name: "Pinned", redirectUris: ["https://pinned.example/cb"], confidential: false });
      const dynamic = await registerClient(server.base, { client_name: "Dynamic", redirect_uris: ["https://dynamic.example/cb"] });
      clock.advance(31 * DAY);
      await server.running.gatehouse.sweep();
      const jar = await signIn(server.base, "purge@example.com", PASSWORD);
      const open = async (clientId: string, redirectUri: string) => {
        const response = await openAuthorize(server.base, jar, {
          response_type: "code", client_id: clientId, redirect_uri: redirectUri, code_challenge: pkce().challenge,
          code_challenge_method: "S256", state: "s",
        });
        return { status: response.status, text: visibleText(await response.text()) };
      };
      const gone = await open(dynamic.client_id, "https://dynamic.example/cb");
      expect(gone.status).toBe(400);
      expect(gone.text).toContain("Unknown application");
      const kept = await open(client.clientId, "https://pinned.example/cb");
      expect(kept.status).toBe(200);
      expect(kept.text).toContain("Registered by this server's administrator.");
      expect((await ops.listClients()).map((c) => c.clientId)).toContain(client.clientId);
    });
  });
}
