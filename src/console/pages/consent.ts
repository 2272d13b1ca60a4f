/**
 * The consent page: who is asking, where the answer goes, what is granted,
 * and who is signed in — what a person needs to decide (MCP security best
 * practices §Consent UI; CIMD §6.4).
 */
import type { Context } from "hono";
import { html } from "hono/html";
import type { AuthorizeUser, PendingAuthorization } from "../../oauth/authorize.js";
import { brandingOf, page } from "../layout.js";
import { consoleHref } from "../paths.js";
import { nameMatchesHost } from "../../oauth/client-name.js";
import { scopeInWords, scopeUses, type ScopeCatalog } from "../scopes.js";

function hostOf(uri: string): string {
  try {
    const url = new URL(uri);
    return url.host || `${url.protocol}${url.pathname.split("/")[0] ?? ""}`;
  } catch {
    return uri;
  }
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
  catalog: ScopeCatalog,
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
      <h1><strong>${pending.clientName}</strong> wants to access your ${brandingOf(c).name} account</h1>
      <p class="muted">${origin}</p>
      ${documentHost && !nameMentionsHost
        ? html`<p class="warning" role="note">The name “${pending.clientName}” is not from ${documentHost}. Only continue if you trust ${documentHost}.</p>`
        : ""}
      <h2>It will be able to</h2>
      <ul>
        ${pending.scopes.map((s) => html`<li>${scopeInWords(s)}${scopeUses(s, catalog)}</li>`)}
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
      <form method="post" action="${consoleHref(c, "/logout")}" class="muted" style="margin-top:1.25rem">
        Signed in as <strong>${user.email}</strong>.
        <input type="hidden" name="csrf_token" value="${tokens.logout}" />
        <input type="hidden" name="return_to" value="${`/oauth/authorize${new URL(c.req.url).search}`}" />
        <button type="submit">Not you? Sign out</button>
      </form>
    </div>`,
  );
}
