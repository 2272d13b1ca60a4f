import type { Context } from "hono";
import { html } from "hono/html";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { brandingOf, page } from "../layout.js";
import { consoleHref } from "../paths.js";

export function loginPage(
  c: Context,
  view: { csrfToken: string; returnTo: string; email?: string; error?: string },
  status: ContentfulStatusCode = 200,
) {
  return page(
    c,
    "Sign in",
    html`<div class="card">
      <h1>Sign in to ${brandingOf(c).name}</h1>
      ${view.error ? html`<p class="error" role="alert">${view.error}</p>` : ""}
      <form method="post" action="${consoleHref(c, "/login")}">
        <input type="hidden" name="csrf_token" value="${view.csrfToken}" />
        <input type="hidden" name="return_to" value="${view.returnTo}" />
        <label for="email">Email</label>
        <input id="email" name="email" type="email" autocomplete="username" required value="${view.email ?? ""}" />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required />
        <div class="actions"><button class="primary" type="submit">Sign in</button></div>
      </form>
    </div>`,
    status,
  );
}
