import { describe, expect, it } from "vitest";
import { nameMatchesHost } from "./client-name.js";

describe("nameMatchesHost (CIMD §6.4 consent warning)", () => {
  it.each([
    ["Notion", "www.notion.so"],
    ["Notion MCP", "notion.so"],
    ["Claude", "claude.ai"],
    ["MCP Tools", "mcp-tools.co.uk"],
    ["mcp tools desktop", "app.mcp-tools.co.uk"],
    ["Acme", "acme.com.au"],
    ["Acme", "acme.example:8443"],
    ["VS Code by Example", "example.com"],
    ["Cursor", "CURSOR.COM"],
    ["Localhost tools", "localhost:3000"], // a single-label host is its own label
  ])("%s matches %s", (name, host) => {
    expect(nameMatchesHost(name, host)).toBe(true);
  });

  it.each([
    ["Claude", "evil.example"],
    ["Notion", "notion-login.com"],
    ["Not ion", "notion.so.evil.com"],
    ["Acme Corp", "co.uk"],
    ["", "acme.com"],
    ["Acme", ""],
  ])("%s does not match %s", (name, host) => {
    expect(nameMatchesHost(name, host)).toBe(false);
  });
});
