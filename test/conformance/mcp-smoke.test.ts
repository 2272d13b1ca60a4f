import { Client as LegacyClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as LegacyTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { drivers } from "../helpers/databases.js";
import { connect, signIn } from "../helpers/oauth.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

for (const driver of drivers()) {
  describe(`MCP smoke (${driver})`, () => {
    let server: TestServer;
    let token: string;
    beforeAll(async () => {
      server = await startTestServer(driver);
      await server.addUser("alice@example.com", "correct horse battery");
      const jar = await signIn(server.base, "alice@example.com", "correct horse battery");
      token = (await connect(server.base, jar)).tokens.access_token;
    });
    afterAll(async () => server?.close());

    it("2025-11-25 session client calls whoami", async () => {
      const client = new LegacyClient({ name: "legacy", version: "1.0.0" });
      const transport = new LegacyTransport(new URL(`${server.base}/mcp`), {
        requestInit: { headers: { Authorization: `Bearer ${token}` } },
      });
      await client.connect(transport);
      expect(transport.sessionId).toBeTruthy();
      const result = await client.callTool({ name: "whoami", arguments: {} });
      expect(JSON.stringify(result)).toContain("alice@example.com");
      await transport.terminateSession();
      await client.close();
    });

    it("2026-07-28 stateless client calls whoami", async () => {
      const client = new Client({ name: "modern", version: "1.0.0" }, { versionNegotiation: { mode: { pin: "2026-07-28" } } } as never);
      const transport = new StreamableHTTPClientTransport(new URL(`${server.base}/mcp`), {
        requestInit: { headers: { Authorization: `Bearer ${token}` } },
      });
      await client.connect(transport);
      const result = await client.callTool({ name: "whoami", arguments: {} });
      expect(JSON.stringify(result)).toContain("alice@example.com");
      await client.close();
    });
  });
}
