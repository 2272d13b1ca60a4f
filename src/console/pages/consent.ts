/**
 * The consent page: who is asking, where the answer goes, what is granted,
 * and who is signed in — what a person needs to decide (MCP security best
 * practices §Consent UI; CIMD §6.4).
 */
import type { Context } from "hono";
import { html } from "hono/html";
import type { AuthorizeUser, PendingAuthorization } from "../../oauth/authorize.js";
import { page } from "../layout.js";
import { scopeInWords } from "../scopes.js";

function hostOf(uri: string): string {
  try {
    const url = new URL(uri);
    return url.host || `${url.protocol}${url.pathname.split("/")[0] ?? ""}`;
  } catch {
    return uri;
  }
}

/**
 * CIMD §6.4: warn when the self-declared name does not match the document's
 * host. The host's registrable label (`notion` in www.notion.so, `mcp-tools`
 * in mcp-tools.co.uk) must equal a word, or consecutive words, of the name.
 */
const GENERIC_SECOND_LEVEL = new Set(["co", "com", "net", "org", "gov", "edu", "ac", "or", "ne", "go", "gv", "ltd", "plc", "nic"]);

export function nameMatchesHost(name: string, host: string): boolean {
  const labels = host.replace(/:\d+$/, "").toLowerCase().split(".");
  // Country second-level suffixes (co.uk, com.au): the registrable label is one further left.
  const countrySecondLevel = labels.length > 2 && labels.at(-1)!.length === 2 && GENERIC_SECOND_LEVEL.has(labels.at(-2)!);
  const label = (labels.at(countrySecondLevel ? -3 : -2) ?? labels[0] ?? "").replace(/[^a-z0-9]/g, "");
  if (!label) return false;
  const words = name.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
  for (let i = 0; i < words.length; i++) {
    let joined = "";
    for (let j = i; j < words.length; j++) {
      joined += words[j];
      if (joined === label) return true;
    }
  }
  return false;
}

function isLoopback(uri: string): boolean {
  try {
    return ["localhost", "127.0.0.1", "[::1]"].includes(new URL(uri).hostname);
  } catch {
    return false;
  }
}

export function consentPage(
  c: Context,
  pending: PendingAuthorization,
  user: AuthorizeUser,
  tokens: { consent: string; logout: string },
) {
  const redirectHost = hostOf(pending.redirectUri);
  const documentHost = pending.clientSource === "cimd" ? hostOf(pending.clientId) : null;
  const nameMentionsHost = documentHost ? nameMatchesHost(pending.clientName, documentHost) : true;
  // Never the registering address: registration is anonymous, so the page cannot tell whether this person
  // registered the client, and a public client registered once is shown to everyone who connects it — each
  // would learn the first registrant's address. Operators find it in the database (registered_from_ip).
  const origin =
    pending.clientSource === "cimd"
      ? html`Identified by a metadata document at <strong>${documentHost}</strong>.`
      : pending.clientSource === "static"
        ? html`Registered by this server's administrator.`
        : html`Registered itself on ${new Date(pending.clientRegisteredAt).toUTCString()}. Its name is self-declared and unverified.`;
  return page(
    c,
    `Authorize ${pending.clientName}`,
    html`<div class="card">
      <h1><strong>${pending.clientName}</strong> wants to access your Gatehouse account</h1>
      <p class="muted">${origin}</p>
      ${documentHost && !nameMentionsHost
        ? html`<p class="warning" role="note">The name “${pending.clientName}” is not from ${documentHost}. Only continue if you trust ${documentHost}.</p>`
        : ""}
      <h2>It will be able to</h2>
      <ul>
        ${pending.scopes.map((s) => html`<li>${scopeInWords(s)}</li>`)}
      </ul>
      <h2>After you decide, you go back to</h2>
      <p><code>${redirectHost}</code></p>
      ${isLoopback(pending.redirectUri)
        ? html`<p class="warning" role="note">This address is on your own computer (${redirectHost}). Approve only if you just started this connection from an app on this device.</p>`
        : ""}
      <form method="post" action="/oauth/authorize">
        <input type="hidden" name="request_id" value="${pending.id}" />
        <input type="hidden" name="csrf_token" value="${tokens.consent}" />
        <div class="actions">
          <button class="primary" type="submit" name="decision" value="approve">Approve</button>
          <button type="submit" name="decision" value="deny">Deny</button>
        </div>
      </form>
      <form method="post" action="/logout" class="muted" style="margin-top:1.25rem">
        Signed in as <strong>${user.email}</strong>.
        <input type="hidden" name="csrf_token" value="${tokens.logout}" />
        <input type="hidden" name="return_to" value="${`/oauth/authorize${new URL(c.req.url).search}`}" />
        <button type="submit">Not you? Sign out</button>
      </form>
    </div>`,
  );
}
