import type { Context } from "hono";
import { html } from "hono/html";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { page } from "../layout.js";
import { consoleHref } from "../paths.js";

export function setupPage(
  c: Context,
  view: { token: string; csrfToken: string; kind: "first-account" | "set-password"; email?: string; error?: string },
  status: ContentfulStatusCode = 200,
) {
  const first = view.kind === "first-account";
  return page(
    c,
    first ? "Create the first account" : "Set your password",
    html`<div class="card">
      <h1>${first ? "Create the first account" : "Set your password"}</h1>
      <p class="muted">${first
        ? "This link works once. The account you create here can sign in to approve AI clients."
        : html`For <strong>${view.email ?? ""}</strong>. This link works once.`}</p>
      ${view.error ? html`<p class="error" role="alert">${view.error}</p>` : ""}
      <form method="post" action="${consoleHref(c, "/setup")}">
        <input type="hidden" name="token" value="${view.token}" />
        <input type="hidden" name="csrf_token" value="${view.csrfToken}" />
        ${first
          ? html`<label for="email">Email</label>
              <input id="email" name="email" type="email" autocomplete="username" required value="${view.email ?? ""}" />`
          : ""}
        <label for="password">Password (at least 8 characters)</label>
        <input id="password" name="password" type="password" autocomplete="new-password" minlength="8" required />
        <div class="actions"><button class="primary" type="submit">${first ? "Create account" : "Set password"}</button></div>
      </form>
    </div>`,
    status,
  );
}
