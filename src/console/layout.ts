/**
 * The one page layout. Hono's `html` template escapes every interpolation.
 * Pages load nothing from third parties (RFC 9700 §4.2.4) and cannot be
 * framed (OAuth 2.1 §7.11).
 */
import type { Context } from "hono";
import { html, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { DEFAULT_BRANDING, type Branding } from "../config.js";

/** Set on every request by the app (app/app.ts) from `config.branding`. */
export type BrandingVariables = { branding: Branding };

export function brandingOf(c: Context): Branding {
  return (c.var as Partial<BrandingVariables>).branding ?? DEFAULT_BRANDING;
}

type Content = HtmlEscapedString | Promise<HtmlEscapedString>;

function contentSecurityPolicy(scriptNonce?: string): string {
  const script = scriptNonce ? `'nonce-${scriptNonce}'` : "'none'";
  return `default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; script-src ${script}; frame-ancestors 'none'; base-uri 'none'`;
}

export const PAGE_HEADERS: Record<string, string> = {
  "Content-Security-Policy": contentSecurityPolicy(),
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "X-Content-Type-Options": "nosniff",
  "Cache-Control": "no-store",
};

const STYLE = `
  :root { color-scheme: light dark; --fg:#1b1f24; --muted:#57606a; --bg:#f6f8fa; --card:#fff; --line:#d0d7de; --accent:#0b5cad; --danger:#b42318; --ok:#1a7f37; }
  @media (prefers-color-scheme: dark) { :root { --fg:#e6edf3; --muted:#9aa4ae; --bg:#0d1117; --card:#161b22; --line:#30363d; --accent:#58a6ff; --danger:#f97066; --ok:#3fb950; } }
  * { box-sizing: border-box; }
  body { margin:0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--fg); background:var(--bg); }
  main { max-width: 40rem; margin: 3rem auto; padding: 0 1rem; overflow-wrap: break-word; }
  main.wide { max-width: 60rem; }
  .card { background:var(--card); border:1px solid var(--line); border-radius:12px; padding:1.5rem 1.75rem; }
  h1 { font-size:1.35rem; margin:0 0 1rem; }
  h2 { font-size:1.05rem; margin:1.5rem 0 .5rem; }
  p, li { color:var(--fg); } .muted { color:var(--muted); font-size:.9rem; }
  label { display:block; font-weight:600; margin:.75rem 0 .25rem; }
  input[type=email], input[type=password], input[type=text] { width:100%; padding:.55rem .7rem; border:1px solid var(--line); border-radius:8px; font:inherit; background:transparent; color:inherit; }
  button { font:inherit; padding:.55rem 1.1rem; border-radius:8px; border:1px solid var(--line); background:transparent; color:inherit; cursor:pointer; }
  button.primary { background:var(--accent); border-color:var(--accent); color:#fff; }
  button.danger { color:var(--danger); border-color:var(--danger); }
  .actions { display:flex; gap:.75rem; margin-top:1.25rem; flex-wrap:wrap; }
  .warning { border-left:4px solid #d4a72c; padding:.5rem .75rem; background:rgba(212,167,44,.12); border-radius:4px; }
  .error { border-left:4px solid var(--danger); padding:.5rem .75rem; background:rgba(180,35,24,.1); border-radius:4px; }
  .done { border-left:4px solid var(--ok); padding:.5rem .75rem; background:rgba(26,127,55,.1); border-radius:4px; }
  code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size:.9em; word-break:break-all; }
  table { width:100%; border-collapse:collapse; } th, td { text-align:left; padding:.5rem .4rem; border-bottom:1px solid var(--line); vertical-align:top; }
  /* A long client name or scope list wraps inside its cell instead of pushing the table past the card. */
  td.name { overflow-wrap:anywhere; } td.act { width:1%; white-space:nowrap; }
  @media (min-width: 40rem) { td.activity { white-space:nowrap; } }
  /* On a phone each row stacks (name, activity, button) rather than squeezing three columns. */
  @media (max-width: 40rem) {
    .card { padding:1.25rem 1rem; }
    table.stack thead { display:none; }
    table.stack, table.stack tbody, table.stack tr, table.stack td { display:block; width:auto; }
    table.stack tr { padding:.5rem 0; border-bottom:1px solid var(--line); }
    table.stack td { border:0; padding:.2rem 0; }
  }
  .scopes { margin-top:.25rem; }
  .brand { display:flex; align-items:center; gap:.5rem; margin:0 0 1rem; color:var(--muted); font-weight:600; }
  .brand img { height:1.75rem; width:auto; }
  .tag { display:inline-block; font-size:.75rem; padding:0 .45rem; border-radius:999px; border:1px solid var(--line); }
`;

export interface PageOptions {
  /** Allows the page's inline script with this nonce (CSP). */
  scriptNonce?: string;
  /** A wider column, for pages with tables (/user). */
  wide?: boolean;
}

export function page(
  c: Context,
  title: string,
  body: Content,
  status: ContentfulStatusCode = 200,
  { scriptNonce, wide = false }: PageOptions = {},
): Response | Promise<Response> {
  const brand = brandingOf(c);
  for (const [name, value] of Object.entries(PAGE_HEADERS)) c.header(name, value);
  if (scriptNonce) c.header("Content-Security-Policy", contentSecurityPolicy(scriptNonce));
  return c.html(
    html`<!doctype html>
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <meta name="referrer" content="no-referrer" />
          <title>${title} · ${brand.name}</title>
          <style>
            ${raw(STYLE)}
          </style>
        </head>
        <body>
          <main${wide ? raw(' class="wide"') : ""}>
            <div class="brand">${brand.logoUrl ? html`<img src="${brand.logoUrl}" alt="" />` : ""}<span>${brand.name}</span></div>
            ${body}
          </main>
        </body>
      </html>`,
    status,
  );
}

export function errorPage(c: Context, title: string, message: string, status: ContentfulStatusCode = 400) {
  return page(
    c,
    title,
    html`<div class="card">
      <h1>${title}</h1>
      <p class="error" role="alert">${message}</p>
      <p class="muted">You can close this window and try again from the application.</p>
    </div>`,
    status,
  );
}
