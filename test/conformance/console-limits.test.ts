/**
 * Sign-in throttling with the production limits, across nodes, and the
 * consent page's warning when a metadata document's name is not its host's
 * (ISSUE 5; PRODUCT §6; THREATS 35-37).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClientMetadataDocument } from "../../src/oauth/cimd.js";
import { drivers } from "../helpers/databases.js";
import {
  CookieJar,
  formFields,
  openAuthorize,
  pkce,
  signIn,
  visibleText,
} from "../helpers/oauth.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import {
  get,
  PASSWORD,
  sessionSetCookie,
  submit,
} from "../helpers/console.js";

for (const driver of drivers()) {
  describe(`console: sign-in throttling with the production limits (${driver})`, () => {
    /** Production limits (createServices' defaults): startTestServer lifts them unless given its own `rateLimits`. */
    const production = { appDeps: { rateLimits: {} } };
    async function nodes(): Promise<TestServer[]> {
      const first = await startTestServer(driver, production);
      if (driver !== "postgres") return [first];
      return [first, await startTestServer(driver, { ...production, testDb: first.testDb })];
    }
    async function closeAll(servers: TestServer[]): Promise<void> {
      for (const server of [...servers].reverse()) await server.close();
    }
    async function attempt(node: TestServer, email: string, password: string, headers: Record<string, string> = {}): Promise<Response> {
      const jar = new CookieJar();
      const page = await get(node.base, "/login", jar);
      jar.absorb(page);
      return submit(node.base, "/login", jar, { ...formFields(await page.text(), "/login"), email, password }, headers);
    }
    function expectThrottled(response: Response, label: string, maxSeconds: number): void {
      expect(response.status, label).toBe(429);
      const retryAfter = response.headers.get("retry-after");
      expect(retryAfter, label).toMatch(/^\d+$/);
      expect(Number(retryAfter), label).toBeGreaterThanOrEqual(1);
      expect(Number(retryAfter), label).toBeLessThanOrEqual(maxSeconds);
      expect(sessionSetCookie(response), label).toBeUndefined();
    }

    it(`per address and account: after 10 failures that address gets 429 with Retry-After for the account, even with the right password${driver === "postgres" ? ", across two nodes" : ""}; other accounts are unaffected`, async () => {
      const servers = await nodes();
      try {
        await servers[0]!.addUser("victim@example.com", PASSWORD);
        await servers[0]!.addUser("bystander@example.com", PASSWORD);
        for (let i = 0; i < 10; i++) {
          const node = servers[i % servers.length]!;
          const response = await attempt(node, "victim@example.com", `wrong password ${i}`);
          expect(response.status, `failure ${i + 1} on ${node.base}`).toBe(401);
        }
        for (const node of servers) {
          const response = await attempt(node, "victim@example.com", "wrong again");
          expectThrottled(response, `11th failure on ${node.base}`, 900);
          expect(visibleText(await response.text())).toMatch(/Too many attempts/);
          expectThrottled(await attempt(node, "victim@example.com", PASSWORD), `the right password on ${node.base}`, 900);
          expectThrottled(await attempt(node, "  VICTIM@Example.com ", PASSWORD), `another spelling on ${node.base}`, 900);
        }
        expect((await attempt(servers.at(-1)!, "bystander@example.com", PASSWORD)).status, "another account signs in").toBe(303);
      } finally {
        await closeAll(servers);
      }
    }, 60_000);

    it("issue 9, 7a: a stranger's 50 wrong passwords from one address do not lock the owner out: the owner signs in from another address", async () => {
      const server = await startTestServer(driver, { ...production, config: { trustProxy: true } });
      try {
        await server.addUser("owner@example.com", PASSWORD);
        const from = (ip: string) => ({ "x-forwarded-for": ip });
        const answers: number[] = [];
        for (let i = 0; i < 50; i++) answers.push((await attempt(server, "owner@example.com", `stranger guess ${i}`, from("203.0.113.66"))).status);
        expect(answers).toEqual([...Array<number>(10).fill(401), ...Array<number>(40).fill(429)]);
        expectThrottled(await attempt(server, "owner@example.com", PASSWORD, from("203.0.113.66")), "the right password from the stranger's address", 900);
        const owner = await attempt(server, "owner@example.com", PASSWORD, from("198.51.100.10"));
        expect(owner.status, "the owner from another address").toBe(303);
        expect(sessionSetCookie(owner)).toBeDefined();
      } finally {
        await server.close();
      }
    }, 90_000);

    it("issue 9, 7a: guessing spread over many addresses only slows the account down: past 30 wrong passwords each attempt waits, and the right password still signs in", async () => {
      const server = await startTestServer(driver, { ...production, config: { trustProxy: true } });
      try {
        await server.addUser("target@example.com", PASSWORD);
        // 4 addresses × 8 guesses: each stays under its 10 per (address, account), together past the account's 30.
        for (let ip = 1; ip <= 4; ip++) {
          for (let i = 0; i < 8; i++) {
            const response = await attempt(server, "target@example.com", `guess ${ip}.${i}`, { "x-forwarded-for": `203.0.113.${ip}` });
            expect(response.status, `guess ${i + 1} from address ${ip}`).toBe(401);
          }
        }
        const timed = async (password: string, ip: string) => {
          const started = Date.now();
          const response = await attempt(server, "target@example.com", password, { "x-forwarded-for": ip });
          return { status: response.status, ms: Date.now() - started };
        };
        const wrong = await timed("one more guess", "192.0.2.9");
        expect(wrong.status, "a wrong password is slowed, not refused").toBe(401);
        expect(wrong.ms).toBeGreaterThanOrEqual(950);
        const owner = await timed(PASSWORD, "198.51.100.10");
        expect(owner.status, "the right password signs in").toBe(303);
        expect(owner.ms, "after the same wait").toBeGreaterThanOrEqual(950);
      } finally {
        await server.close();
      }
    }, 90_000);

    it("throttling does not reveal whether an account exists: an unknown email is throttled the same way", async () => {
      const servers = await nodes();
      try {
        const answers: number[] = [];
        for (let i = 0; i < 11; i++) answers.push((await attempt(servers[i % servers.length]!, "ghost@example.com", `guess ${i}`)).status);
        expect(answers).toEqual([...Array<number>(10).fill(401), 429]);
      } finally {
        await closeAll(servers);
      }
    }, 60_000);

    it(`per address: the 31st attempt from one IP within 5 minutes answers 429${driver === "postgres" ? ", across two nodes" : ""}; a forged X-Forwarded-For does not help`, async () => {
      const servers = await nodes();
      try {
        await servers[0]!.addUser("real@example.com", PASSWORD);
        for (let i = 0; i < 30; i++) {
          const node = servers[i % servers.length]!;
          const response = await attempt(node, `guess${i}@example.com`, "password guess");
          expect(response.status, `attempt ${i + 1} on ${node.base}`).toBe(401);
        }
        for (const node of servers) {
          expectThrottled(await attempt(node, "guess-next@example.com", "password guess"), `31st on ${node.base}`, 300);
          expectThrottled(await attempt(node, "real@example.com", PASSWORD), `a real account from that address on ${node.base}`, 300);
          expectThrottled(
            await attempt(node, "guess-forged@example.com", "password guess", { "x-forwarded-for": "203.0.113.7", forwarded: "for=203.0.113.7" }),
            `forged X-Forwarded-For on ${node.base}`,
            300,
          );
        }
      } finally {
        await closeAll(servers);
      }
    }, 90_000);

    it("per address behind a trusted proxy: keyed on the last X-Forwarded-For hop, so forged first hops do not reset it", async () => {
      const server = await startTestServer(driver, { ...production, config: { trustProxy: true } });
      try {
        const via = (firstHop: string) => ({ "x-forwarded-for": `${firstHop}, 198.51.100.23` });
        for (let i = 0; i < 30; i++) {
          const response = await attempt(server, `proxied${i}@example.com`, "password guess", via(`203.0.113.${i}`));
          expect(response.status, `attempt ${i + 1}`).toBe(401);
        }
        expectThrottled(await attempt(server, "proxied-next@example.com", "password guess", via("192.0.2.200")), "31st with a new first hop", 300);
        const elsewhere = await attempt(server, "proxied-other@example.com", "password guess", { "x-forwarded-for": "203.0.113.1, 198.51.100.24" });
        expect(elsewhere.status, "another proxied address has its own budget").toBe(401);
      } finally {
        await server.close();
      }
    }, 60_000);
  });
  describe(`consent page: a metadata document's name against its host (${driver})`, () => {
    // ISSUE 5 §2: "the metadata document's host for URL client ids, with a warning when name and host disagree".
    const documents = new Map<string, string>([
      ["https://claude.ai/oauth/mcp-client.json", "Claude"],
      ["https://www.notion.so/mcp/client.json", "Notion"],
      ["https://cursor.com/mcp/client.json", "Cursor"],
      ["https://mcp.box.com/client.json", "Box"],
      ["https://apps.example.com/client.json", "Google Drive"],
      ["https://mcp-tools.co.uk/client.json", "Acme Corp Assistant"],
      ["https://ms.to/client.json", "Microsoft Teams"],
    ]);
    const fetchDocument = async (clientId: string): Promise<ClientMetadataDocument> => {
      const clientName = documents.get(clientId);
      if (!clientName) throw new Error(`no document for ${clientId}`);
      return {
        clientId,
        clientName,
        redirectUris: ["https://app.example/callback"],
        tokenEndpointAuthMethod: "none",
        grantTypes: ["authorization_code", "refresh_token"],
        responseTypes: ["code"],
      };
    };
    let server: TestServer;
    let jar: CookieJar;
    beforeAll(async () => {
      server = await startTestServer(driver, { appDeps: { fetchDocument } });
      await server.addUser("carol@example.com", PASSWORD);
      jar = await signIn(server.base, "carol@example.com", PASSWORD);
    });
    afterAll(async () => server?.close());

    const consentText = async (clientId: string) => {
      const response = await openAuthorize(server.base, jar, {
        response_type: "code",
        client_id: clientId,
        redirect_uri: "https://app.example/callback",
        code_challenge: pkce().challenge,
        code_challenge_method: "S256",
        state: "s",
        resource: `${server.base}/mcp`,
      });
      const html = await response.text();
      expect(response.status, html).toBe(200);
      return visibleText(html);
    };
    const warning = (name: string, host: string) => `The name “${name}” is not from ${host}`;

    it.each([
      ["https://claude.ai/oauth/mcp-client.json", "claude.ai"],
      ["https://www.notion.so/mcp/client.json", "www.notion.so"],
      ["https://cursor.com/mcp/client.json", "cursor.com"],
      ["https://mcp.box.com/client.json", "mcp.box.com"],
    ])("no warning when the name is the host's own: %s", async (clientId, host) => {
      const text = await consentText(clientId);
      expect(text).toContain(`Identified by a metadata document at ${host}`);
      expect(text).not.toContain("is not from");
    });

    it.each([
      ["https://apps.example.com/client.json", "apps.example.com"],
      ["https://mcp-tools.co.uk/client.json", "mcp-tools.co.uk"],
      ["https://ms.to/client.json", "ms.to"],
    ])("a warning when the name is not the host's: %s", async (clientId, host) => {
      const text = await consentText(clientId);
      expect(text).toContain(`Identified by a metadata document at ${host}`);
      expect(text).toContain(warning(documents.get(clientId)!, host));
    });
  });
}
