/**
 * The account page over HTTP (PRODUCT §5, §6): MCP connections and personal
 * API keys on /user, created and deleted with CSRF-protected forms;
 * disconnecting ends the connection's tokens and sessions on every node.
 */
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { drivers } from "../helpers/databases.js";
import { openGetStream, openSession } from "../helpers/mcp.js";
import {
  connect,
  expectRefreshRefused,
  formFields,
  mcpBearerStatus,
  mcpBearerStatusOnNode,
  mcpStatusAfterRevocation,
  mcpStatusAfterRevocationOnNode,
  openAuthorize,
  pkce,
  refreshGrant,
  registerClient,
  signIn,
  visibleText,
} from "../helpers/oauth.js";
import { startTestServer } from "../helpers/server.js";
import {
  api,
  confirmations,
  cookieValue,
  type Credential,
  expectApiError,
  CROSS_SITE,
  expectPageHeaders,
  FORBIDDEN_NAME_CHARACTERS,
  get,
  MCP_SCOPE_WORDS,
  newKeyOn,
  pageAt,
  PASSWORD,
  plainText,
  rowOf,
  SESSION_COOKIE,
  sha256Hex,
  signedIn,
  submit,
  useConsoleFixture,
} from "../helpers/console.js";

for (const driver of drivers()) {
  describe(`console: /user (${driver})`, () => {
    const f = useConsoleFixture(driver);

    describe("/user: MCP connections and personal API keys", () => {
      it("lists an MCP connection made with connect(), tagged mcp, with the client's name (escaped) and its dates", async () => {
        const name = `Console <b>Test</b> & "Co" ${driver}`;
        const { client } = await f.connectAs(f.aliceJar, name);
        const connection = await f.connectionOf(f.aliceJar, client.client_id);
        expect(connection).toMatchObject({ kind: "mcp", client: { id: client.client_id, name } });
        expect(connection!.expiresAt).not.toBeNull();

        const page = await pageAt(f.base, "/user", f.aliceJar);
        expect(page.status).toBe(200);
        expectPageHeaders(page.headers, "GET /user");
        const row = rowOf(page.html, connection!.id);
        expect(row, "the connection has a row with its Disconnect form").not.toBeNull();
        expect(row).toMatch(/data-kind="mcp"/);
        expect(row).toContain('<span class="tag">mcp</span>');
        expect(row, "the name is escaped").toContain("Console &lt;b&gt;Test&lt;/b&gt; &amp; &quot;Co&quot;");
        expect(row).not.toContain("<b>Test</b>");
        const text = visibleText(row!);
        expect(text).toContain(name);
        expect(text).toMatch(/Created .*UTC/);
        expect(text).toMatch(/Last used /);
        expect(text).toMatch(/Expires .*UTC/);
        expect(text).toContain("Disconnect");
        expect(formFields(row!, `/user/tokens/${connection!.id}/delete`).csrf_token).toBeTruthy();
        // The scopes are labelled and in the consent page's words (one wording for both pages).
        expect(connection!.scopes).toEqual(["mcp"]);
        expect(plainText(row!)).toContain(`Scopes: ${MCP_SCOPE_WORDS}`);
        expect(page.html, "the account page uses the wide layout").toMatch(/<main class="wide">/);

        // Only its owner sees it.
        expect(rowOf((await pageAt(f.base, "/user", f.bobJar)).html, connection!.id)).toBeNull();
      });

      it("the Disconnect form refuses a missing or wrong CSRF token, cross-site posts and other users: nothing is deleted", async () => {
        const { client, access } = await f.connectAs(f.aliceJar);
        const connection = (await f.connectionOf(f.aliceJar, client.client_id))!;
        const path = `/user/tokens/${connection.id}/delete`;
        const html = (await pageAt(f.base, "/user", f.aliceJar)).html;
        const fields = formFields(html, path);
        const cases: [string, Record<string, string>, Record<string, string>][] = [
          ["no csrf_token", {}, {}],
          ["an empty csrf_token", { csrf_token: "" }, {}],
          ["a wrong csrf_token", { csrf_token: "E".repeat(43) }, {}],
          ["the create form's csrf_token", { csrf_token: formFields(html, "/user/tokens").csrf_token! }, {}],
          ["a token from f.bob's session", { csrf_token: formFields((await pageAt(f.base, "/user", f.bobJar)).html, "/user/tokens").csrf_token! }, {}],
          ...CROSS_SITE.map(([label, headers]): [string, Record<string, string>, Record<string, string>] => [label, fields, headers]),
        ];
        for (const [label, body, headers] of cases) {
          const response = await submit(f.base, path, f.aliceJar, body, headers);
          expect(response.status, label).toBe(403);
          expect(response.headers.get("location"), label).toBeNull();
        }
        // Bob's own, valid Disconnect/Delete token pointed at alice's connection deletes nothing of hers.
        const bobKey = await f.newKey(f.bobJar, "bob's anchor");
        const bobToken = formFields((await pageAt(f.base, "/user", f.bobJar)).html, `/user/tokens/${bobKey.id}/delete`).csrf_token!;
        const bobDelete = await submit(f.base, path, f.bobJar, { csrf_token: bobToken });
        expect([303, 404], "bob's request is answered, but deletes nothing").toContain(bobDelete.status);
        expect(visibleText((await pageAt(f.base, "/user", f.bobJar)).html), "and confirms nothing").not.toMatch(/Disconnected|Deleted key/);

        expect(await f.connectionOf(f.aliceJar, client.client_id), "the connection is still there").toBeDefined();
        const after = (await pageAt(f.base, "/user", f.aliceJar)).html;
        expect(rowOf(after, connection.id)).not.toBeNull();
        expect(visibleText(after)).not.toMatch(/Disconnected/);
        expect(await mcpBearerStatus(f.base, access), "its access token still works").not.toBe(401);
      });

      it("Disconnect: 303 to /user, the access token gets 401 at /mcp within 1 s (every node), the refresh token fails, its MCP stream ends, and the page shows it gone", async () => {
        const { client, access, refresh } = await f.connectAs(f.aliceJar, `Disconnect me ${driver}`);
        const connection = (await f.connectionOf(f.aliceJar, client.client_id))!;
        expect([401, 403], "the token works before").not.toContain(await mcpBearerStatus(f.base, access));
        if (f.other) expect([401, 403], "the other node accepts (and caches) the token").not.toContain(await mcpBearerStatusOnNode(f.otherUrl, f.base, access));
        const session = await openSession(f.base, access);
        const stream = await openGetStream(f.base, access, session);

        const path = `/user/tokens/${connection.id}/delete`;
        const fields = formFields((await pageAt(f.base, "/user", f.aliceJar)).html, path);
        const deleted = await submit(f.base, path, f.aliceJar, fields);
        expect(deleted.status).toBe(303);
        expect(deleted.headers.get("location")).toBe("/user");

        expect(await mcpStatusAfterRevocation(f.base, access, 1000)).toBe(401);
        if (f.other) expect(await mcpStatusAfterRevocationOnNode(f.otherUrl, f.base, access, 1000), "401 on the other node within 1 s").toBe(401);
        expectRefreshRefused(await refreshGrant(f.base, client.client_id, refresh));
        expect(await stream.endsWithin(2000), "the connection's open MCP stream is closed").toBe(true);
        await stream.close();

        // The page it redirects to confirms it once, by name (looked up on the server; nothing in the URL).
        const after = await pageAt(f.base, "/user", f.aliceJar);
        expect(rowOf(after.html, connection.id)).toBeNull();
        expect(confirmations(after.html)).toEqual([`Disconnected Disconnect me ${driver}.`]);
        const reloaded = await pageAt(f.base, "/user", f.aliceJar);
        expect(confirmations(reloaded.html), "shown once").toEqual([]);
        expect(visibleText(reloaded.html)).not.toContain(`Disconnect me ${driver}`);
        expect(await f.connectionOf(f.aliceJar, client.client_id)).toBeUndefined();
        // Posting the same form again is harmless, and confirms nothing.
        const again = await submit(f.base, path, f.aliceJar, fields);
        expect(again.status).toBe(303);
        expect(again.headers.get("location")).toBe("/user");
        expect(confirmations((await pageAt(f.base, "/user", f.aliceJar)).html)).toEqual([]);
        // PRODUCT §6: the registration stays — the client signs in again with the same client_id.
        const authorize = await openAuthorize(f.base, f.aliceJar, {
          response_type: "code",
          client_id: client.client_id,
          redirect_uri: client.redirect_uris[0]!,
          code_challenge: pkce().challenge,
          code_challenge_method: "S256",
          state: "s",
          resource: `${f.base}/mcp`,
        });
        expect(authorize.status, "the client registration stays after its last connection").toBe(200);
        expect(visibleText(await authorize.text())).toContain(`Disconnect me ${driver}`);
        const { tokens } = await connect(f.base, f.aliceJar, client);
        expect(await mcpBearerStatus(f.base, tokens.access_token)).not.toBe(401);
      });

      it("consent's \"Not you? Sign out\" ends the session and, after signing in as someone else, returns to the same request", async () => {
        const client = await registerClient(f.base, { client_name: `Not you ${driver}` });
        const params = {
          response_type: "code",
          client_id: client.client_id,
          redirect_uri: client.redirect_uris[0]!,
          code_challenge: pkce().challenge,
          code_challenge_method: "S256",
          state: "not-you",
          resource: `${f.base}/mcp`,
        };
        const jar = await signIn(f.base, "alice@example.com", PASSWORD);
        const consent = await openAuthorize(f.base, jar, params);
        expect(consent.status).toBe(200);
        const html = await consent.text();
        expect(visibleText(html)).toContain("Signed in as alice@example.com");
        const out = await submit(f.base, "/logout", jar, formFields(html, "/logout"));
        expect(out.status).toBe(303);
        const login = new URL(out.headers.get("location")!, f.base);
        expect(login.pathname).toBe("/login");
        const returnTo = login.searchParams.get("return_to")!;
        expect(returnTo).toBe(`/oauth/authorize?${new URLSearchParams(params)}`);
        jar.absorb(out);
        expect(await signedIn(f.base, jar)).toBe(false);

        const form = await get(f.base, `${login.pathname}${login.search}`, jar);
        jar.absorb(form);
        const back = await submit(f.base, "/login", jar, { ...formFields(await form.text(), "/login"), email: "bob@example.com", password: PASSWORD });
        expect(back.status).toBe(303);
        expect(back.headers.get("location")).toBe(returnTo);
        jar.absorb(back);
        const again = await get(f.base, returnTo, jar);
        expect(again.status).toBe(200);
        expect(visibleText(await again.text())).toContain("Signed in as bob@example.com");
      });

      it("an MCP connection's \"Last used\" follows its /mcp calls, not only its authorization", async () => {
        const clock = new ManualClock(Date.now());
        const timed = await startTestServer(driver, { clock });
        try {
          await timed.addUser("erin@example.com", PASSWORD);
          const jar = await signIn(timed.base, "erin@example.com", PASSWORD);
          const client = await registerClient(timed.base, { client_name: "Last used probe" });
          const { tokens } = await connect(timed.base, jar, client);
          const connectedAt = clock.now();
          clock.advance(10 * 60_000); // ten minutes later (the access token lives an hour)
          expect([401, 403]).not.toContain(await mcpBearerStatus(timed.base, tokens.access_token));
          const lastUsed = async () => {
            const list = await api(timed.base, "/tokens", { cookie: jar });
            const connection = (list.json as { tokens: Credential[] }).tokens.find((t) => t.client?.id === client.client_id)!;
            return Date.parse(connection.lastUsedAt ?? "1970-01-01T00:00:00Z");
          };
          const deadline = Date.now() + 1000;
          let seen = await lastUsed();
          while (seen < connectedAt + 10 * 60_000 && Date.now() < deadline) {
            await new Promise((resolve) => setTimeout(resolve, 50));
            seen = await lastUsed();
          }
          expect(seen, `last used ${new Date(seen).toISOString()}: the /mcp call ten minutes after connecting is not recorded`).toBeGreaterThanOrEqual(connectedAt + 10 * 60_000);
        } finally {
          await timed.close();
        }
      });

      it("the New key form (Post/Redirect/Get): 303 to /user, which shows the key once with a copy button; a reload shows nothing and creates nothing; Delete confirms by name", async () => {
        const jar = await signIn(f.base, "bob@example.com", PASSWORD);
        const fields = formFields((await pageAt(f.base, "/user", jar)).html, "/user/tokens");
        const before = (await f.credentials(jar)).length;
        const created = await submit(f.base, "/user/tokens", jar, { ...fields, name: "deploy <script>" });
        expect(created.status).toBe(303);
        expect(created.headers.get("location"), "back to /user, nothing in the URL").toBe("/user");
        expect(await created.text(), "the key is not in the POST's answer").not.toMatch(/ghk_/);

        const shown = await pageAt(f.base, "/user", jar);
        expect(shown.status).toBe(200);
        expectPageHeaders(shown.headers, "GET /user with a new key");
        const token = newKeyOn(shown.html);
        expect(token, "the key is shown").toMatch(/^ghk_[A-Za-z0-9_-]{40,}$/);
        expect(shown.html).toContain('id="copy-key"');
        expect(visibleText(shown.html)).toMatch(/New key deploy <script> ?\. Copy it now: it is shown only once/);
        expect(shown.html).toContain("deploy &lt;script&gt;");
        expect(shown.html).not.toContain("deploy <script>");
        expect((await api(f.base, "/me", { bearer: token! })).status).toBe(200);

        // A reload is a GET: the key is not shown again, and no second key is made.
        const reloaded = await pageAt(f.base, "/user", jar);
        expect(reloaded.html, "never shown again").not.toContain(token!);
        expect(newKeyOn(reloaded.html)).toBeUndefined();
        const keys = (await f.credentials(jar)).filter((c) => c.name === "deploy <script>");
        expect(keys).toHaveLength(1);
        expect((await f.credentials(jar)).length).toBe(before + 1);
        const key = keys[0]!;
        expect(key).toMatchObject({ kind: "api_key", client: null });
        const row = rowOf(reloaded.html, key.id)!;
        expect(row).toMatch(/data-kind="api_key"/);
        expect(visibleText(row)).toContain("Delete");

        const deleted = await submit(f.base, `/user/tokens/${key.id}/delete`, jar, formFields(row, `/user/tokens/${key.id}/delete`));
        expect(deleted.status).toBe(303);
        expect(deleted.headers.get("location")).toBe("/user");
        expectApiError(await api(f.base, "/me", { bearer: token! }), 401, "invalid_token");
        const after = await pageAt(f.base, "/user", jar);
        expect(rowOf(after.html, key.id)).toBeNull();
        expect(confirmations(after.html)).toEqual(["Deleted key deploy <script>."]);
        expect(after.html).not.toContain("deploy <script>");
        expect(confirmations((await pageAt(f.base, "/user", jar)).html), "shown once").toEqual([]);
      });

      it("the new key waits only for the session that made it, sealed (the plaintext is never stored), at most 60 s; two creates before a GET are both shown", async () => {
        const kv = f.server.running.deps.kv;
        const jar = await signIn(f.base, "bob@example.com", PASSWORD);
        const elsewhere = await signIn(f.base, "bob@example.com", PASSWORD);
        // Two tabs, each with the form open: both submitted before either redirect is followed.
        const form = formFields((await pageAt(f.base, "/user", jar)).html, "/user/tokens");
        const create = async (name: string) => {
          const response = await submit(f.base, "/user/tokens", jar, { ...form, name });
          expect(response.status, name).toBe(303);
          expect(response.headers.get("location"), name).toBe("/user");
        };
        await create("first tab");
        await create("second tab");
        // Stored under this session (the hash of its cookie), sealed: iv.tag.ciphertext.
        const prefix = `console:flash:${sha256Hex(cookieValue(jar, SESSION_COOKIE)!)}:`;
        const stored = (await kv.scanByPrefix(prefix)).entries;
        expect(stored).toHaveLength(2);
        for (const entry of stored) expect(entry.value).toMatch(/^[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]+$/);

        expect(newKeyOn((await pageAt(f.base, "/user", elsewhere)).html), "another session of the same person sees nothing").toBeUndefined();
        const page = await pageAt(f.base, "/user", jar);
        const shown = [...page.html.matchAll(/<input[^>]*id="(new-key[^"]*)"[^>]*value="(ghk_[^"]+)"/g)].map((m) => [m[1], m[2]!] as const);
        expect(shown.map(([id]) => id)).toEqual(["new-key", "new-key-2"]);
        expect(visibleText(page.html).indexOf("New key first tab")).toBeLessThan(visibleText(page.html).indexOf("New key second tab"));
        expect(page.html).toContain('data-copy="new-key-2"');
        for (const [, token] of shown) {
          expect((await api(f.base, "/me", { bearer: token })).status).toBe(200);
          for (const entry of stored) {
            expect(entry.value, "the stored entry does not hold the key").not.toContain(token.slice(4));
            expect(entry.value).not.toContain(token.slice(4, 24));
          }
        }
        expect((await kv.scanByPrefix(prefix)).entries, "taken on display").toEqual([]);
        expect(newKeyOn((await pageAt(f.base, "/user", jar)).html)).toBeUndefined();
      });

      it("a new key not displayed within 60 s is not shown any more (the key itself stays listed, deletable)", async () => {
        const clock = new ManualClock(Date.now());
        const timed = await startTestServer(driver, { clock });
        try {
          await timed.addUser("fay@example.com", PASSWORD);
          const jar = await signIn(timed.base, "fay@example.com", PASSWORD);
          const fields = formFields((await pageAt(timed.base, "/user", jar)).html, "/user/tokens");
          expect((await submit(timed.base, "/user/tokens", jar, { ...fields, name: "late" })).status).toBe(303);
          clock.advance(60_001);
          const page = await pageAt(timed.base, "/user", jar);
          expect(newKeyOn(page.html)).toBeUndefined();
          expect(page.html).not.toMatch(/ghk_/);
          expect(visibleText(page.html)).toContain("late");
        } finally {
          await timed.close();
        }
      });

      it("nothing from the URL reaches the page: /user with made-up confirmation parameters shows none of them; the forms redirect to exactly /user", async () => {
        const probes = ['<script>alert("x")</script>', "Disconnected Everything.", "javascript:alert(1)"];
        for (const name of ["done", "notice", "flash", "message", "name", "key"]) {
          for (const probe of probes) {
            const page = await pageAt(f.base, `/user?${new URLSearchParams({ [name]: probe })}`, f.aliceJar);
            expect(page.status).toBe(200);
            expect(page.html, `${name}=${probe}`).not.toContain(probe);
            expect(page.html).not.toContain(probe.replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;"));
            expect(confirmations(page.html)).toEqual([]);
          }
        }
        // A delete of something that does not exist (or is not yours) still just goes back to /user, confirming nothing.
        const anchor = await f.newKey(f.aliceJar, "delete-form anchor");
        const token = formFields((await pageAt(f.base, "/user", f.aliceJar)).html, `/user/tokens/${anchor.id}/delete`).csrf_token!;
        for (const id of ["nothing-here", "x".repeat(500), "%2F%2Fevil.example", (await f.newKey(f.bobJar, "bob's, not f.alice's")).id]) {
          const response = await submit(f.base, `/user/tokens/${id}/delete`, f.aliceJar, { csrf_token: token });
          expect(response.status, id).toBe(303);
          expect(response.headers.get("location"), id).toBe("/user");
        }
        expect(confirmations((await pageAt(f.base, "/user", f.aliceJar)).html)).toEqual([]);
      });

      it("key names with control characters or invisible bidirectional marks are refused (form: 400 with the error; API: 400 invalid_name); other scripts and emoji are fine", async () => {
        const jar = await signIn(f.base, "alice@example.com", PASSWORD);
        const csrf = await f.csrfOf(jar);
        const before = (await f.credentials(jar)).length;
        for (const [label, ch] of FORBIDDEN_NAME_CHARACTERS) {
          const name = `invoice${ch}gpj.exe`;
          const viaApi = await api(f.base, "/tokens", { method: "POST", cookie: jar, csrf, body: { name } });
          expectApiError(viaApi, 400, "invalid_name");
          expect(viaApi.json!.error_description, label).toMatch(/control characters|text-direction/);
          expect(viaApi.text, label).not.toMatch(/ghk_/);

          const fields = formFields((await pageAt(f.base, "/user", jar)).html, "/user/tokens");
          const viaForm = await submit(f.base, "/user/tokens", jar, { ...fields, name });
          expect(viaForm.status, label).toBe(400);
          expect(viaForm.headers.get("location"), label).toBeNull();
          const html = await viaForm.text();
          expect(html, label).not.toMatch(/ghk_/);
          expect(/role="alert">([^<]*)</.exec(html)?.[1], label).toMatch(/must not contain control characters or invisible text-direction marks/);
          // The same kind of answer as any other invalid name.
          expect(/role="alert">/.test(html)).toBe(true);
        }
        const empty = await submit(f.base, "/user/tokens", jar, { ...formFields((await pageAt(f.base, "/user", jar)).html, "/user/tokens"), name: "   " });
        expect(empty.status).toBe(400);
        expect(/role="alert">([^<]*)</.exec(await empty.text())?.[1]).toMatch(/1 to 100 characters/);
        expect((await f.credentials(jar)).length, "nothing was created").toBe(before);

        // Whitespace around a name is trimmed, as before; letters of any script and emoji (with joiners) are kept.
        for (const name of ["Ключ для CI", "部署 🔑", "family 👨‍👩‍👧", "שלום key", "naïve café"]) {
          const created = await api(f.base, "/tokens", { method: "POST", cookie: jar, csrf, body: { name } });
          expect(created.status, `${name}: ${created.text}`).toBe(201);
          expect(created.json!.name).toBe(name);
        }
        const viaForm = await submit(f.base, "/user/tokens", jar, { ...formFields((await pageAt(f.base, "/user", jar)).html, "/user/tokens"), name: "  cron\u00a0job  " });
        expect(viaForm.status).toBe(303);
      });
    });

  });
}
