/** `/user`: the account, personal API keys and MCP connections, each deletable. */
import type { Context } from "hono";
import { html, raw } from "hono/html";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { CredentialView } from "../../accounts/api-keys.js";
import type { Flash } from "../flash.js";
import { page } from "../layout.js";
import { consoleHref } from "../paths.js";
import { scopeInWords } from "../scopes.js";

function when(iso: string | null): string {
  return iso ? new Date(iso).toUTCString().replace(" GMT", " UTC") : "never";
}

/** What a credential is called on this page: a connection by its client's name. */
export function credentialName(cred: CredentialView): string {
  return cred.kind === "mcp" ? (cred.client?.name ?? cred.client?.id ?? cred.name) : cred.name;
}

/** The confirmation a flash stands for; fixed words around a name read from the database, escaped by the template. */
function confirmation(flash: Exclude<Flash, { kind: "key-created" }>) {
  return flash.kind === "disconnected" ? html`Disconnected <strong>${flash.name}</strong>.` : html`Deleted key <strong>${flash.name}</strong>.`;
}

export function userPage(
  c: Context,
  view: {
    email: string;
    credentials: CredentialView[];
    csrf: { create: string; delete: string; logout: string };
    /** One-time messages from the form that redirected here. */
    flashes?: Flash[];
    /** Why the New key form was refused. */
    error?: string;
    nonce: string;
  },
  status: ContentfulStatusCode = 200,
) {
  const flashes = view.flashes ?? [];
  const newKeys = flashes.filter((f) => f.kind === "key-created");
  const confirmations = flashes.filter((f) => f.kind !== "key-created");
  const rows = view.credentials.map(
    (cred) => html`<tr data-kind="${cred.kind}">
      <td class="name">
        ${cred.kind === "mcp" ? html`<span class="tag">mcp</span> ` : html`<span class="tag">api key</span> `}
        <strong>${credentialName(cred)}</strong>
        ${cred.kind === "mcp" && cred.scopes.length
          ? html`<div class="muted scopes">Scopes: ${cred.scopes.map((s, i) => html`${i ? "; " : ""}${scopeInWords(s)}`)}</div>`
          : ""}
      </td>
      <td class="muted activity">Created ${when(cred.createdAt)}<br />Last used ${when(cred.lastUsedAt)}${cred.expiresAt
          ? html`<br />Expires ${when(cred.expiresAt)}`
          : ""}</td>
      <td class="act">
        <form method="post" action="${consoleHref(c, `/user/tokens/${cred.id}/delete`)}" data-confirm="${cred.kind === "mcp"
            ? `Disconnect ${cred.client?.name ?? "this client"}? It will lose access at once.`
            : `Delete the key ${cred.name}?`}">
          <input type="hidden" name="csrf_token" value="${view.csrf.delete}" />
          <button class="danger" type="submit">${cred.kind === "mcp" ? "Disconnect" : "Delete"}</button>
        </form>
      </td>
    </tr>`,
  );
  return page(
    c,
    "Your account",
    html`<div class="card">
      <h1>Your account</h1>
      <form method="post" action="${consoleHref(c, "/logout")}" class="muted">
        Signed in as <strong>${view.email}</strong>.
        <input type="hidden" name="csrf_token" value="${view.csrf.logout}" />
        <button type="submit">Sign out</button>
      </form>
      ${confirmations.map((flash) => html`<p class="done" role="status">${confirmation(flash)}</p>`)}
      ${view.error ? html`<p class="error" role="alert">${view.error}</p>` : ""}
      ${newKeys.map(
        // Ids stay `new-key` / `copy-key` for the usual single key; a second one (two tabs) gets a suffix.
        (key, i) => html`<div class="warning" role="status">
          <p>New key <strong>${key.name}</strong>. Copy it now: it is shown only once.</p>
          <input type="text" id="new-key${i ? `-${i + 1}` : ""}" readonly value="${key.token}" aria-label="New API key" />
          <div class="actions"><button type="button" id="copy-key${i ? `-${i + 1}` : ""}" data-copy="new-key${i ? `-${i + 1}` : ""}">Copy</button></div>
        </div>`,
      )}
      <h2>Connections and keys</h2>
      ${view.credentials.length
        ? html`<table class="stack">
            <thead><tr><th>Name</th><th>Activity</th><th></th></tr></thead>
            <tbody>${rows}</tbody>
          </table>`
        : html`<p class="muted">No MCP connections or API keys yet. Add <code>${new URL(c.req.url).origin}/mcp</code> to an MCP client to connect one.</p>`}
      <h2>New personal API key</h2>
      <form method="post" action="${consoleHref(c, "/user/tokens")}">
        <input type="hidden" name="csrf_token" value="${view.csrf.create}" />
        <label for="key-name">Name</label>
        <input id="key-name" name="name" type="text" maxlength="100" required placeholder="e.g. deploy script" />
        <div class="actions"><button class="primary" type="submit">Create key</button></div>
      </form>
    </div>
    <script nonce="${view.nonce}">
      ${raw(`for (const button of document.querySelectorAll("button[data-copy]")) {
        button.addEventListener("click", async () => {
          const input = document.getElementById(button.dataset.copy);
          input.select();
          try { await navigator.clipboard.writeText(input.value); } catch { document.execCommand("copy"); }
          button.textContent = "Copied";
        });
      }
      for (const form of document.querySelectorAll("form[data-confirm]")) {
        form.addEventListener("submit", (event) => { if (!confirm(form.dataset.confirm)) event.preventDefault(); });
      }`)}
    </script>`,
    status,
    { scriptNonce: view.nonce, wide: true },
  );
}
