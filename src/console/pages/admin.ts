/** `/admin`: every account with its connections, every registered client, and the admin actions on them. */
import type { Context } from "hono";
import { html } from "hono/html";
import type { AdminOverview } from "../../accounts/admin-overview.js";
import { page } from "../layout.js";
import { consoleHref } from "../paths.js";
import { scopeInWords } from "../scopes.js";

/** Each gateway upstream as /readyz reports it (gateway/upstream.ts `UpstreamHealth`). */
export interface UpstreamStatus {
  name: string;
  status: string;
  restarts: number;
}

function when(date: Date | null): string {
  return date ? date.toUTCString().replace(" GMT", " UTC") : "never";
}

export function adminPage(
  c: Context,
  view: {
    email: string;
    overview: AdminOverview;
    upstreams?: UpstreamStatus[];
    csrf: { users: string; clients: string };
  },
) {
  const { users, clients } = view.overview;
  const userRows = users.map(
    (user) => html`<tr data-user="${user.email}">
      <td><strong>${user.email}</strong>${user.role === "admin" ? html` <span class="tag">admin</span>` : ""}
        ${user.connections.length
          ? html`<ul class="muted connections">
              ${user.connections.map(
                (conn) => html`<li data-connection="${conn.clientId}">${conn.clientName ?? conn.clientId} · ${conn.scopes.map((s, i) => html`${i ? "; " : ""}${scopeInWords(s)}`)} · created ${when(conn.createdAt)} · last used ${when(conn.lastUsedAt)}</li>`,
              )}
            </ul>`
          : ""}
      </td>
      <td class="state">${user.disabled ? "disabled" : "active"}</td>
      <td class="count">${user.connections.length}</td>
      <td class="muted">${when(user.lastUsedAt)}</td>
      <td class="act">
        ${user.email === view.email
          ? html`<span class="muted">you</span>`
          : html`<form method="post" action="${consoleHref(c, `/admin/users/${user.id}`)}/${user.disabled ? "enable" : "disable"}">
              <input type="hidden" name="csrf_token" value="${view.csrf.users}" />
              <button class="${user.disabled ? "" : "danger"}" type="submit">${user.disabled ? "Enable" : "Disable"}</button>
            </form>`}
      </td>
    </tr>`,
  );
  const clientRows = clients.map(
    (client) => html`<tr data-client="${client.clientId}">
      <td><code>${client.clientId}</code></td>
      <td>${client.name ?? ""}</td>
      <td>${client.source}</td>
      <td class="muted">${when(client.createdAt)}</td>
      <td class="count">${client.connections}</td>
      <td class="act">
        <form method="post" action="${consoleHref(c, "/admin/clients/remove")}">
          <input type="hidden" name="csrf_token" value="${view.csrf.clients}" />
          <input type="hidden" name="client_id" value="${client.clientId}" />
          <button class="danger" type="submit">Remove</button>
        </form>
      </td>
    </tr>`,
  );
  return page(
    c,
    "Administration",
    html`<div class="card">
      <h1>Administration</h1>
      <p class="muted">Signed in as <strong>${view.email}</strong> · <a href="${consoleHref(c, "/user")}">Your account</a></p>
      <h2>Accounts</h2>
      <table class="stack users">
        <thead><tr><th>Email and connections</th><th>State</th><th>Connections</th><th>Last used</th><th></th></tr></thead>
        <tbody>${userRows}</tbody>
      </table>
      <h2>Registered clients</h2>
      ${clients.length
        ? html`<table class="stack clients">
            <thead><tr><th>client_id</th><th>Name</th><th>Source</th><th>Created</th><th>Connections</th><th></th></tr></thead>
            <tbody>${clientRows}</tbody>
          </table>`
        : html`<p class="muted">No clients yet.</p>`}
      ${view.upstreams && view.upstreams.length
        ? html`<h2>Gateway upstreams</h2>
            <ul class="upstreams">
              ${view.upstreams.map((u) => html`<li>${u.name}: ${u.status}${u.restarts ? ` (${u.restarts} restarts)` : ""}</li>`)}
            </ul>`
        : ""}
    </div>`,
    200,
    { wide: true },
  );
}
