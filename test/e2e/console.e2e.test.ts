/**
 * The console in a real browser (ISSUE 5 §5; PRODUCT §1, §2, §5, §6): Debian's
 * Chromium driven by playwright-core, against a real Gatehouse on PGlite.
 *
 * One person's first day, in order (each step builds on the one before):
 * 1. first-run setup link → account created → lands on /user;
 * 2. sign out, a wrong password, sign in;
 * 3. a real MCP client (`@modelcontextprotocol/sdk` 1.x, DCR + PKCE) whose
 *    `redirectToAuthorization` opens the authorization URL in Chromium; the
 *    person signs in, reads the consent page and clicks Approve; the browser
 *    lands on a tiny local callback server; `finishAuth(code)`; whoami;
 * 4. another site (same host, other port) cannot frame the consent page,
 *    the sign-in form or /user (clickjacking, AZ-16);
 * 5. another client, reached by a link on another site while signed out:
 *    sign-in works across sites, and the person clicks Deny →
 *    `error=access_denied` at the callback;
 * 6. /user lists the connection (tagged `mcp`, with the client's name and
 *    its scopes in words); a personal API key is created (Post/Redirect/Get:
 *    shown once on /user, the copy button works, a reload neither shows it
 *    again nor creates another); a very long client name stays inside the
 *    card, on a desktop and a phone-sized window;
 * 7. the key is deleted ("Deleted key …" shown once); a dismissed confirm
 *    dialog deletes nothing; the connection is disconnected (confirm
 *    accepted; "Disconnected …"): the client's next /mcp call gets 401.
 *
 * Every Gatehouse page is also checked for script errors and CSP violations.
 *
 * Screenshots go to test-results/screenshots/; the consent page and /user
 * are also copied to docs/ for the README.
 */
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { UnauthorizedError, type OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueSetupLink } from "../../src/accounts/setup-links.js";
import { launchChromium, type Browser } from "../helpers/chromium.js";
import { connect, mcpStatusAfterRevocation, registerClient, signIn } from "../helpers/oauth.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const EMAIL = "ada@example.com";
const PASSWORD = "analytical engine 1843";
const CLIENT_NAME = "Notebook Assistant";
const DENIED_CLIENT_NAME = "Unwanted Helper";
const KEY_NAME = "deploy script";

const SCREENSHOTS = fileURLToPath(new URL("../../test-results/screenshots/", import.meta.url));
const DOCS = fileURLToPath(new URL("../../docs/", import.meta.url));

/* ------------------------------------------------ the client's callback */

interface CallbackServer {
  origin: string;
  redirectUri: string;
  /** Every authorization response that reached the callback, in order. */
  hits: URL[];
  close(): Promise<void>;
}

/** The redirect URI of a native MCP client: a loopback HTTP server that shows "you can close this window". */
async function startCallbackServer(): Promise<CallbackServer> {
  const hits: URL[] = [];
  let origin = "";
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", origin);
    if (url.pathname === "/start") {
      // A web-based client's page with a link to the authorization URL (served as "localhost": another site than 127.0.0.1).
      const to = (url.searchParams.get("to") ?? "").replace(/["<>&]/g, (ch) => `&#${ch.charCodeAt(0)};`);
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(`<!doctype html><title>Web client</title><a id="connect" href="${to}">Connect Gatehouse</a>`);
      return;
    }
    if (url.pathname === "/frame") {
      // Another site (same host, other port: same-site, so Lax cookies go along) framing a Gatehouse page.
      const src = (url.searchParams.get("src") ?? "").replace(/["<>&]/g, "");
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(`<!doctype html><title>Framer</title><h1>Click the button below to win</h1><iframe name="victim" src="${src}" width="800" height="600"></iframe>`);
      return;
    }
    if (url.pathname !== "/callback") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    hits.push(url);
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end("<!doctype html><title>Done</title><h1>Done — you can close this window.</h1>");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    redirectUri: `${origin}/callback`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/* ----------------------------------------------- the MCP client's side */

/** An SDK 1.x OAuthClientProvider whose "browser" is the Chromium page. */
class BrowserOAuthProvider implements OAuthClientProvider {
  client: OAuthClientInformationMixed | undefined;
  readonly savedTokens: OAuthTokens[] = [];
  readonly authorizationUrls: URL[] = [];
  readonly states: string[] = [];
  /** Off once nobody is at the browser: a later re-authorization is recorded, not opened. */
  interactive = true;
  private verifier: string | undefined;

  constructor(
    private readonly page: Page,
    readonly redirectUrl: string,
    private readonly name: string,
  ) {}

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: this.name,
      redirect_uris: [this.redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  state(): string {
    const state = randomBytes(16).toString("base64url");
    this.states.push(state);
    return state;
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info: OAuthClientInformationMixed): void {
    this.client = info;
  }
  tokens() {
    return this.savedTokens.at(-1);
  }
  saveTokens(tokens: OAuthTokens): void {
    this.savedTokens.push(tokens);
  }
  /** How the person reaches the URL; by default what a desktop client does: open it in their browser. */
  open: (url: URL) => Promise<unknown> = (url) => this.page.goto(url.href);

  async redirectToAuthorization(url: URL): Promise<void> {
    this.authorizationUrls.push(url);
    if (this.interactive) await this.open(url);
  }
  saveCodeVerifier(verifier: string): void {
    this.verifier = verifier;
  }
  codeVerifier(): string {
    if (!this.verifier) throw new Error("no code verifier saved");
    return this.verifier;
  }
}

interface Seen {
  method: string;
  path: string;
  status: number;
  authorization: string | null;
  body: string;
}

/** A fetch for the SDK that records what it sent and got (discovery, DCR, token and /mcp calls all go through it). */
function recordingFetch(base: string, log: Seen[]) {
  return async (url: string | URL, init?: RequestInit): Promise<Response> => {
    const response = await fetch(url, init);
    const target = new URL(String(url));
    if (target.origin === new URL(base).origin) {
      log.push({
        method: (init?.method ?? "GET").toUpperCase(),
        path: target.pathname,
        status: response.status,
        authorization: new Headers(init?.headers).get("authorization"),
        body: typeof init?.body === "string" || init?.body instanceof URLSearchParams ? String(init.body) : "",
      });
    }
    return response;
  };
}

interface Whoami {
  user: { id: string; email: string };
  client: { id: string; name: string };
  scopes: string[];
}

/* --------------------------------------------------------------- tests */

describe("the console in Chromium (pglite)", () => {
  let server: TestServer;
  let base: string;
  let browser: Browser;
  let page: Page;
  let callback: CallbackServer;
  /** Console errors (CSP violations, script errors) seen on Gatehouse pages. */
  const pageErrors: string[] = [];

  // The connected client, shared by the steps after the consent flow.
  let provider: BrowserOAuthProvider;
  let client: Client;
  let transport: StreamableHTTPClientTransport;
  const log: Seen[] = [];
  /** The API key created in one step and deleted in the next. */
  let keyForNextStep = "";

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    // Launch first: on a machine without Chromium this installs it (as root) or fails with one line.
    browser = await launchChromium({ viewport: { width: 1000, height: 760 } });
    server = await startTestServer("pglite");
    base = server.base;
    callback = await startCallbackServer();
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.setDefaultTimeout(15_000);
    page.on("console", (message) => {
      if (message.type() === "error" && page.url().startsWith(base)) pageErrors.push(`${page.url()}: ${message.text()}`);
    });
    page.on("pageerror", (error) => pageErrors.push(`${page.url()}: ${error.message}`));
  }, 600_000);

  afterAll(async () => {
    await client?.close().catch(() => {});
    await browser?.close();
    await callback?.close();
    await server?.close();
  });

  const shoot = async (name: string) => {
    await page.screenshot({ path: `${SCREENSHOTS}${name}.png`, fullPage: true });
  };
  /** No script error and no CSP violation ("Refused to …") on any Gatehouse page; HTTP error statuses are logged by Chromium too and are expected. */
  const expectNoPageErrors = () => {
    const errors = pageErrors.splice(0).filter((e) => !/Failed to load resource: the server responded with a status of/.test(e));
    expect(errors).toEqual([]);
  };
  const mcpRow = (name: string) => page.locator('tr[data-kind="mcp"]', { hasText: name });
  const keyRow = (name: string) => page.locator('tr[data-kind="api_key"]', { hasText: name });
  /** The one-time confirmations on the page ("Disconnected …", "Deleted key …"). */
  const confirmations = () => page.locator("p.done").allInnerTexts();
  /**
   * Submits a /user form with `click` and waits until the browser has followed the 303 and loaded /user
   * (the page is at /user before and after, so waiting for the URL alone would not wait).
   */
  const submitToUser = async (click: () => Promise<unknown>) => {
    const posted = page.waitForResponse((r) => r.request().method() === "POST" && r.url().startsWith(`${base}/user/tokens`));
    const landed = page.waitForResponse((r) => r.request().method() === "GET" && r.url() === `${base}/user`);
    await click();
    expect((await posted).status(), "the form answers 303").toBe(303);
    expect((await landed).status()).toBe(200);
    await page.waitForLoadState("load");
    expect(page.url()).toBe(`${base}/user`);
  };

  it("first-run setup: the one-time link creates the account and lands on /user, signed in", async () => {
    const link = await issueSetupLink(server.running.deps.kv, base, { kind: "first-account" });
    await page.goto(link);
    await expect.poll(() => page.title()).toContain("Create the first account");
    await expect.poll(() => page.getByRole("heading", { level: 1 }).textContent()).toBe("Create the first account");
    await shoot("setup");

    await page.getByLabel("Email").fill(EMAIL);
    await page.getByLabel(/Password/).fill(PASSWORD);
    await Promise.all([page.waitForURL(`${base}/user`), page.getByRole("button", { name: "Create account" }).click()]);
    expect(await page.locator("main").innerText()).toContain(`Signed in as ${EMAIL}`);
    expect(await page.locator("main").innerText()).toContain("No MCP connections or API keys yet");

    const cookies = await browser.context.cookies(base);
    const session = cookies.find((c) => c.name === "gh_session");
    expect(session, JSON.stringify(cookies)).toBeDefined();
    expect(session).toMatchObject({ httpOnly: true, sameSite: "Lax", path: "/" });
    expect(session!.domain).toBe("127.0.0.1");

    // The link worked once.
    await page.goto(link);
    expect(await page.locator("main").innerText()).toMatch(/invalid, expired or already used/);
    expectNoPageErrors();
  });

  it("sign out, a wrong password (an error, still signed out), then sign in", async () => {
    await page.goto(`${base}/user`);
    await Promise.all([page.waitForURL(`${base}/login?return_to=%2Fuser`), page.getByRole("button", { name: "Sign out" }).click()]);
    expect((await browser.context.cookies(base)).find((c) => c.name === "gh_session")).toBeUndefined();
    await page.goto(`${base}/user`);
    expect(page.url()).toBe(`${base}/login?return_to=%2Fuser`);

    await page.getByLabel("Email").fill(EMAIL);
    await page.getByLabel("Password").fill("not the password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toMatch(/do not match/);
    expect(new URL(page.url()).pathname).toBe("/login");
    await shoot("login-error");

    await page.getByLabel("Password").fill(PASSWORD);
    await Promise.all([page.waitForURL(`${base}/user`), page.getByRole("button", { name: "Sign in" }).click()]);
    expect(await page.locator("main").innerText()).toContain(`Signed in as ${EMAIL}`);
    expectNoPageErrors();
  });

  it("a real MCP client sends the person through sign-in and consent; Approve; the callback gets the code; finishAuth; whoami", async () => {
    // Start signed out, as someone adding the server to a new client would.
    await browser.context.clearCookies();
    provider = new BrowserOAuthProvider(page, callback.redirectUri, CLIENT_NAME);
    client = new Client({ name: "e2e-notebook", version: "1.0.0" });
    const first = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider, fetch: recordingFetch(base, log) });
    const connecting = await client.connect(first).then(
      () => new Error("connected without authorization"),
      (error: unknown) => error,
    );
    expect(connecting).toBeInstanceOf(UnauthorizedError);
    expect(provider.client?.client_id, "registered by DCR").toBeTruthy();
    expect(provider.authorizationUrls).toHaveLength(1);
    const authorizationUrl = provider.authorizationUrls[0]!;
    expect(`${authorizationUrl.origin}${authorizationUrl.pathname}`).toBe(`${base}/oauth/authorize`);

    // The browser was sent to sign in first, and comes back to the same request.
    await page.waitForURL((url) => url.pathname === "/login");
    expect(new URL(page.url()).searchParams.get("return_to")).toBe(`/oauth/authorize${authorizationUrl.search}`);
    await page.getByLabel("Email").fill(EMAIL);
    await page.getByLabel("Password").fill(PASSWORD);
    await Promise.all([page.waitForURL((url) => url.pathname === "/oauth/authorize"), page.getByRole("button", { name: "Sign in" }).click()]);

    // The consent page says who asks, where the answer goes, and who is signed in.
    const heading = await page.getByRole("heading", { level: 1 }).innerText();
    expect(heading).toContain(CLIENT_NAME);
    const text = await page.locator("main").innerText();
    const redirectHost = new URL(callback.redirectUri).host;
    expect(text).toContain(redirectHost);
    expect(text).toMatch(/Registered itself on /);
    expect(text).not.toMatch(/from 127\.0\.0\.1/); // the registrant's address is never shown (issue 9, 7c)
    expect(text).toMatch(/self-declared and unverified/);
    expect(text).toMatch(/on your own computer/);
    expect(text).toContain(`Signed in as ${EMAIL}`);
    await expect.poll(() => page.getByRole("button", { name: "Approve" }).isVisible()).toBe(true);
    await expect.poll(() => page.getByRole("button", { name: "Deny" }).isVisible()).toBe(true);
    await shoot("consent");
    copyFileSync(`${SCREENSHOTS}consent.png`, `${DOCS}consent.png`);

    // A person's click on Approve; the browser follows the 303 to the client's callback.
    await Promise.all([page.waitForURL((url) => url.href.startsWith(callback.redirectUri)), page.getByRole("button", { name: "Approve" }).click()]);
    expect(callback.hits).toHaveLength(1);
    const response = callback.hits[0]!;
    expect(response.searchParams.get("error")).toBeNull();
    expect(response.searchParams.get("state")).toBe(authorizationUrl.searchParams.get("state"));
    expect(response.searchParams.get("iss")).toBe(base);
    const code = response.searchParams.get("code");
    expect(code).toBeTruthy();
    expect(await page.locator("h1").innerText()).toContain("you can close this window");

    await first.finishAuth(code!);
    expect(provider.savedTokens).toHaveLength(1);
    expect(provider.savedTokens[0]!.access_token).toMatch(/^gha_/);
    expect(provider.savedTokens[0]!.refresh_token).toMatch(/^ghr_/);
    transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider, fetch: recordingFetch(base, log) });
    await client.connect(transport);
    const result = (await client.callTool({ name: "whoami", arguments: {} })) as { structuredContent?: Whoami; isError?: boolean };
    expect(result.isError ?? false).toBe(false);
    expect(result.structuredContent?.user.email).toBe(EMAIL);
    expect(result.structuredContent?.client).toMatchObject({ id: provider.client!.client_id, name: CLIENT_NAME });
    expectNoPageErrors();
  }, 60_000);

  it("clickjacking: another site cannot show the consent page or the sign-in form in a frame", async () => {
    const authorizationUrl = provider.authorizationUrls[0]!.href;
    for (const target of [authorizationUrl, `${base}/login`, `${base}/user`]) {
      await page.goto(`${callback.origin}/frame?src=${encodeURIComponent(target)}`);
      await page.waitForLoadState("load");
      const frame = page.frames().find((f) => f.name() === "victim");
      expect(frame, target).toBeDefined();
      expect(frame!.url().startsWith(base), `${target} rendered in a frame as ${frame!.url()}`).toBe(false);
      expect(await frame!.locator("form").count().catch(() => 0), target).toBe(0);
    }
  });

  it("Deny, reached from a link on another site and signed out: sign-in works across sites, and the callback gets error=access_denied with its state and iss, and no code", async () => {
    await browser.context.clearCookies();
    const denied = new BrowserOAuthProvider(page, callback.redirectUri, DENIED_CLIENT_NAME);
    // "localhost" and "127.0.0.1" are different sites: this is a cross-site navigation, as from a web-based client.
    const elsewhere = callback.origin.replace("127.0.0.1", "localhost");
    denied.open = async (url) => {
      await page.goto(`${elsewhere}/start?${new URLSearchParams({ to: url.href })}`);
      await page.click("#connect");
    };
    const other = new Client({ name: "e2e-unwanted", version: "1.0.0" });
    const attempt = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: denied });
    const outcome = await other.connect(attempt).then(
      () => new Error("connected without authorization"),
      (error: unknown) => error,
    );
    expect(outcome).toBeInstanceOf(UnauthorizedError);
    await page.waitForURL((url) => url.pathname === "/login");
    await page.getByLabel("Email").fill(EMAIL);
    await page.getByLabel("Password").fill(PASSWORD);
    await Promise.all([page.waitForURL((url) => url.pathname === "/oauth/authorize"), page.getByRole("button", { name: "Sign in" }).click()]);
    expect(await page.getByRole("heading", { level: 1 }).innerText()).toContain(DENIED_CLIENT_NAME);
    await shoot("consent-deny");

    const before = callback.hits.length;
    await Promise.all([page.waitForURL((url) => url.href.startsWith(callback.redirectUri)), page.getByRole("button", { name: "Deny" }).click()]);
    expect(callback.hits).toHaveLength(before + 1);
    const response = callback.hits.at(-1)!;
    expect(response.searchParams.get("error")).toBe("access_denied");
    expect(response.searchParams.get("code")).toBeNull();
    expect(response.searchParams.get("state")).toBe(denied.authorizationUrls[0]!.searchParams.get("state"));
    expect(response.searchParams.get("iss")).toBe(base);
    expect(new URL(page.url()).searchParams.get("error")).toBe("access_denied");
    await other.close();

    await page.goto(`${base}/user`);
    expect(await mcpRow(DENIED_CLIENT_NAME).count(), "a denied client has no connection").toBe(0);
    expectNoPageErrors();
  }, 60_000);

  it("/user lists the connection tagged mcp with the client's name; a personal API key is shown once, with a working copy button", async () => {
    await page.goto(`${base}/user`);
    const row = mcpRow(CLIENT_NAME);
    expect(await row.count()).toBe(1);
    expect(await row.locator(".tag").innerText()).toBe("mcp");
    const rowText = await row.innerText();
    expect(rowText).toMatch(/Created .* UTC/);
    expect(rowText).toMatch(/Last used .* UTC/);
    expect(rowText).toMatch(/Expires .* UTC/);
    expect(await row.getByRole("button", { name: "Disconnect" }).isVisible()).toBe(true);
    // The scopes, labelled, in the consent page's words.
    expect(await row.locator(".scopes").innerText()).toBe("Scopes: Use this server's tools, resources and prompts that need no other permission, as you (mcp)");

    await browser.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
    await page.getByLabel("Name").fill(KEY_NAME);
    // Post/Redirect/Get: the form's answer is a 303 to /user, which shows the key.
    await submitToUser(() => page.getByRole("button", { name: "Create key" }).click());
    const keyInput = page.locator("#new-key");
    const key = await keyInput.inputValue();
    expect(key).toMatch(/^ghk_[A-Za-z0-9_-]{40,}$/);
    expect(await page.locator("main").innerText()).toMatch(/shown only once/);
    const copy = page.getByRole("button", { name: "Copy" });
    expect(await copy.isVisible()).toBe(true);
    await shoot("user-new-key");
    await copy.click();
    await expect.poll(() => page.locator("#copy-key").innerText()).toBe("Copied");
    // A string, evaluated in the page (the test's tsconfig has no DOM types).
    expect(await page.evaluate("navigator.clipboard.readText()"), "the copy button put the key on the clipboard").toBe(key);

    const me = await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${key}` } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { email: string }).email).toBe(EMAIL);

    // A reload (what a person does after copying) is a GET: the key is not shown again and no second key is made.
    const reposts: string[] = [];
    const onRequest = (request: { method(): string; url(): string }) => {
      if (request.method() === "POST") reposts.push(request.url());
    };
    page.on("request", onRequest);
    await page.reload();
    page.off("request", onRequest);
    expect(reposts, "the reload posted nothing").toEqual([]);
    expect(page.url()).toBe(`${base}/user`);
    expect(await page.content()).not.toContain(key);
    expect(await page.locator("#new-key").count()).toBe(0);
    expect(await keyRow(KEY_NAME).count(), "one key, not two").toBe(1);
    // Never shown again, on a later visit either.
    await page.goto(`${base}/user`);
    expect(await page.content()).not.toContain(key);
    expect(await keyRow(KEY_NAME).count()).toBe(1);
    expect(await keyRow(KEY_NAME).locator(".tag").innerText()).toBe("api key");
    await shoot("user");
    copyFileSync(`${SCREENSHOTS}user.png`, `${DOCS}user.png`);
    expectNoPageErrors();
    keyForNextStep = key;
  });

  it("a very long client name wraps inside the card: no horizontal overflow on a desktop or a phone-sized window", async () => {
    const longName = `${"Enterprise".repeat(8)}KnowledgeBaseAssistantConnectorForTheWholeOrganisation`;
    const jar = await signIn(base, EMAIL, PASSWORD);
    const { client: registration } = await connect(base, jar, await registerClient(base, { client_name: longName }));
    const fits = async () =>
      (await page.evaluate(`(() => {
        const card = document.querySelector(".card").getBoundingClientRect();
        const table = document.querySelector("table").getBoundingClientRect();
        return { page: document.documentElement.scrollWidth <= document.documentElement.clientWidth, table: table.right <= card.right + 0.5 };
      })()`)) as { page: boolean; table: boolean };
    try {
      for (const viewport of [{ width: 1000, height: 760 }, { width: 390, height: 844 }]) {
        await page.setViewportSize(viewport);
        await page.goto(`${base}/user`);
        expect(await mcpRow(longName).count()).toBe(1);
        expect(await fits(), `${viewport.width}px wide`).toEqual({ page: true, table: true });
        await shoot(`user-long-name-${viewport.width}`);
      }
    } finally {
      await page.setViewportSize({ width: 1000, height: 760 });
      // Tidy up through the API, so the steps that follow see the page as before.
      const me = (await (await fetch(`${base}/api/me`, { headers: { cookie: jar.header() } })).json()) as { csrf_token: string };
      const list = (await (await fetch(`${base}/api/tokens`, { headers: { cookie: jar.header() } })).json()) as { tokens: { id: string; client: { id: string } | null }[] };
      const connection = list.tokens.find((t) => t.client?.id === registration.client_id)!;
      const gone = await fetch(`${base}/api/tokens/${connection.id}`, { method: "DELETE", headers: { cookie: jar.header(), "x-csrf-token": me.csrf_token } });
      expect(gone.status).toBe(204);
    }
    expectNoPageErrors();
  });

  it("deleting the API key (confirm dialog accepted) removes it: the key gets 401", async () => {
    await page.goto(`${base}/user`);
    const dialogs: string[] = [];
    page.once("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.accept();
    });
    await submitToUser(() => keyRow(KEY_NAME).getByRole("button", { name: "Delete" }).click());
    expect(await keyRow(KEY_NAME).count()).toBe(0);
    expect(dialogs).toEqual([`Delete the key ${KEY_NAME}?`]);
    expect(await confirmations()).toEqual([`Deleted key ${KEY_NAME}.`]);
    await page.reload();
    expect(await confirmations(), "shown once").toEqual([]);
    const me = await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${keyForNextStep}` } });
    expect(me.status).toBe(401);
    expectNoPageErrors();
  });

  it("dismissing the confirm dialog deletes nothing", async () => {
    await page.goto(`${base}/user`);
    page.once("dialog", (dialog) => void dialog.dismiss());
    await mcpRow(CLIENT_NAME).getByRole("button", { name: "Disconnect" }).click();
    await page.waitForTimeout(300); // a submit, had there been one, would navigate
    expect(page.url()).toBe(`${base}/user`);
    await page.reload();
    expect(await mcpRow(CLIENT_NAME).count()).toBe(1);
    const result = (await client.callTool({ name: "whoami", arguments: {} })) as { isError?: boolean };
    expect(result.isError ?? false).toBe(false);
  });

  it("Disconnect (confirm dialog accepted) removes the connection, and the client's next /mcp call gets 401", async () => {
    await page.goto(`${base}/user`);
    const dialogs: string[] = [];
    page.once("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.accept();
    });
    await submitToUser(() => mcpRow(CLIENT_NAME).getByRole("button", { name: "Disconnect" }).click());
    expect(await mcpRow(CLIENT_NAME).count()).toBe(0);
    expect(dialogs).toHaveLength(1);
    expect(dialogs[0]).toContain(CLIENT_NAME);
    expect(await confirmations()).toEqual([`Disconnected ${CLIENT_NAME}.`]);
    await shoot("user-after-disconnect");
    await page.reload();
    expect(await confirmations(), "shown once").toEqual([]);

    const revoked = provider.tokens()!.access_token;
    expect(await mcpStatusAfterRevocation(base, revoked, 1000), "the access token is dead within 1 s").toBe(401);

    // The client's own next call: 401 at /mcp; its refresh token is refused; no silent way back in.
    provider.interactive = false;
    const before = log.length;
    const outcome = await client.callTool({ name: "whoami", arguments: {} }).then(
      () => new Error("the call succeeded after the connection was deleted"),
      (error: unknown) => error,
    );
    expect(outcome).toBeInstanceOf(Error);
    expect(String(outcome)).not.toContain("the call succeeded");
    const after = log.slice(before);
    const unauthorized = after.find((s) => s.path === "/mcp" && s.status === 401);
    expect(unauthorized, JSON.stringify(after.map((s) => `${s.method} ${s.path} ${s.status}`))).toBeDefined();
    expect(unauthorized!.authorization).toBe(`Bearer ${revoked}`);
    for (const refresh of after.filter((s) => s.path === "/oauth/token" && new URLSearchParams(s.body).get("grant_type") === "refresh_token")) {
      expect([400, 401], "the refresh token is refused").toContain(refresh.status);
    }
    expect(after.filter((s) => s.path === "/mcp" && s.status < 300), "no /mcp call succeeded").toEqual([]);
    expectNoPageErrors();
  }, 60_000);
});
