/** `/user`: the account, personal API keys and MCP connections, each deletable. */
import type { Context } from "hono";
import { html, raw } from "hono/html";
import type { CredentialView } from "../../accounts/api-keys.js";
import { page } from "../layout.js";

function when(iso: string | null): string {
  return iso ? new Date(iso).toUTCString().replace(" GMT", " UTC") : "never";
}

export function userPage(
  c: Context,
  view: {
    email: string;
    credentials: CredentialView[];
    csrf: { create: string; delete: string; logout: string };
    newKey?: { name: string; token: string };
    notice?: string;
    nonce: string;
  },
) {
  const rows = view.credentials.map(
    (cred) => html`<tr data-kind="${cred.kind}">
      <td>
        ${cred.kind === "mcp" ? html`<span class="tag">mcp</span> ` : html`<span class="tag">api key</span> `}
        <strong>${cred.kind === "mcp" ? (cred.client?.name ?? cred.client?.id ?? cred.name) : cred.name}</strong>
        ${cred.kind === "mcp" && cred.scopes.length ? html`<div class="muted">${cred.scopes.join(" ")}</div>` : ""}
      </td>
      <td class="muted">Created ${when(cred.createdAt)}<br />Last used ${when(cred.lastUsedAt)}${cred.expiresAt
          ? html`<br />Expires ${when(cred.expiresAt)}`
          : ""}</td>
      <td>
        <form method="post" action="/user/tokens/${cred.id}/delete" data-confirm="${cred.kind === "mcp"
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
      <form method="post" action="/logout" class="muted">
        Signed in as <strong>${view.email}</strong>.
        <input type="hidden" name="csrf_token" value="${view.csrf.logout}" />
        <button type="submit">Sign out</button>
      </form>
      ${view.notice ? html`<p class="warning" role="status">${view.notice}</p>` : ""}
      ${view.newKey
        ? html`<div class="warning" role="status">
            <p>New key <strong>${view.newKey.name}</strong>. Copy it now: it is shown only once.</p>
            <input type="text" id="new-key" readonly value="${view.newKey.token}" aria-label="New API key" />
            <div class="actions"><button type="button" id="copy-key">Copy</button></div>
          </div>`
        : ""}
      <h2>Connections and keys</h2>
      ${view.credentials.length
        ? html`<table>
            <thead><tr><th>Name</th><th>Activity</th><th></th></tr></thead>
            <tbody>${rows}</tbody>
          </table>`
        : html`<p class="muted">No MCP connections or API keys yet. Add <code>${new URL(c.req.url).origin}/mcp</code> to an MCP client to connect one.</p>`}
      <h2>New personal API key</h2>
      <form method="post" action="/user/tokens">
        <input type="hidden" name="csrf_token" value="${view.csrf.create}" />
        <label for="key-name">Name</label>
        <input id="key-name" name="name" type="text" maxlength="100" required placeholder="e.g. deploy script" />
        <div class="actions"><button class="primary" type="submit">Create key</button></div>
      </form>
    </div>
    <script nonce="${view.nonce}">
      ${raw(`document.getElementById("copy-key")?.addEventListener("click", async () => {
        const input = document.getElementById("new-key");
        input.select();
        try { await navigator.clipboard.writeText(input.value); } catch { document.execCommand("copy"); }
        document.getElementById("copy-key").textContent = "Copied";
      });
      for (const form of document.querySelectorAll("form[data-confirm]")) {
        form.addEventListener("submit", (event) => { if (!confirm(form.dataset.confirm)) event.preventDefault(); });
      }`)}
    </script>`,
    200,
    view.nonce,
  );
}
