/**
 * An authorization error that is not sent back automatically (RFC 9700
 * §4.11.2): the person sees what went wrong and where the link leads, and
 * decides whether to return to the application.
 */
import type { Context } from "hono";
import { html } from "hono/html";
import type { AuthorizeErrorNotice } from "../../oauth/authorize.js";
import { page } from "../layout.js";

export function errorNoticePage(c: Context, notice: AuthorizeErrorNotice) {
  return page(
    c,
    "Request refused",
    html`<div class="card">
      <h1>This request cannot continue</h1>
      <p class="error" role="alert">${notice.clientName ? html`<strong>${notice.clientName}</strong> sent` : "The application sent"} a request this server cannot accept: ${notice.description}</p>
      <p class="muted">Nothing was shared. You were not sent back automatically because this server cannot vouch for where the application's address leads.</p>
      <p><a href="${notice.returnUrl}" rel="noreferrer">Return to ${notice.returnHost}</a></p>
    </div>`,
    400,
  );
}
