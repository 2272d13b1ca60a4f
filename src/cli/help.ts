export type CommandName =
  | "main" | "start" | "migrate"
  | "user" | "user add" | "user list" | "user remove" | "user disable" | "user enable"
  | "client" | "client add" | "client list" | "client remove"
  | "keys" | "keys rotate" | "keys list";

const ENV = `
Environment: PORT, GATEHOUSE_PUBLIC_URL, DATABASE_URL, GATEHOUSE_DATA_DIR and
the others listed in the README. Without DATABASE_URL the data lives in an
embedded database under GATEHOUSE_DATA_DIR (./data).
`;

export const HELP: Record<CommandName, string> = {
  main: `Usage: gatehouse <command> [options]

Commands:
  start [--port N] [--log-format json] [--config FILE]
                                         migrate, then serve MCP, OAuth and the console
  migrate                                apply database migrations and exit
  user add <email> [--password-stdin] [--admin]
                                         create an account (--admin: one that may use /admin)
  user list [--json]                     list accounts
  user remove <email>                    remove an account with its keys, connections and sessions
  user disable <email>                   stop an account: its connections end, it cannot sign in
  user enable <email>                    let a disabled account sign in again
  client add --name N --redirect-uri U [--redirect-uri U ...] [--public|--confidential]
                                         pre-register an OAuth client; prints its client_id (and secret)
  client list [--json]                   list OAuth clients
  client remove <client_id>              remove a client with its connections
  keys rotate [--alg ES256|RS256]        start a rotation of the gateway's identity-token signing keys
  keys list [--json]                     list signing keys: kid, algorithm, state, dates

Options:
  -h, --help   show help (also after any command)
${ENV}
Exit codes: 0 success, 1 failure, 2 usage error.
`,
  start: `Usage: gatehouse start [--port N] [--log-format text|json] [--config FILE]

Applies migrations, then serves on PORT (8787). On a database with no
accounts it prints a one-time link that creates the first one.
--config (or GATEHOUSE_CONFIG) names a gatehouse.config.json of upstream MCP
servers whose tools Gatehouse offers behind its sign-in (gateway mode).
SIGTERM or SIGINT stops taking requests, drains open ones and exits.
${ENV}`,
  migrate: `Usage: gatehouse migrate

Applies the database migrations and exits. Safe to run while a server runs.
${ENV}`,
  user: `Usage: gatehouse user <add|list|remove|disable|enable> ...

  user add <email> [--password-stdin] [--admin]   create an account
  user list [--json]                              list accounts
  user remove <email>                             remove an account
  user disable <email>                            disable an account
  user enable <email>                             enable it again
`,
  "user add": `Usage: gatehouse user add <email> [--password-stdin] [--admin]

Creates an account. With --password-stdin the password is read from standard
input; without it, a one-time link to set the password is printed.
--admin makes it an admin: it may use the /admin console page. (The first
account, made through the setup link, is always an admin.)
`,
  "user disable": `Usage: gatehouse user disable <email>

Disables the account: every MCP connection of it ends on every node (its
tokens answer 401), its console sessions end, its personal API keys stop
working, and it can neither sign in nor authorize a client.
`,
  "user enable": `Usage: gatehouse user enable <email>

Lets a disabled account sign in again. The connections it had stay gone.
`,
  client: `Usage: gatehouse client <add|list|remove> ...

  client add --name N --redirect-uri U [...] [--public|--confidential]   pre-register a client
  client list [--json]                                                  list clients
  client remove <client_id>                                             remove a client
`,
  "client add": `Usage: gatehouse client add --name NAME --redirect-uri URI [--redirect-uri URI ...] [--public|--confidential]

Pre-registers an OAuth client for an MCP client configured with a fixed
client_id (MCP Inspector --client-id, mcp-remote static client information,
Mastra) and prints its client_id. Redirect URIs follow the rules of dynamic
registration: https, http only on localhost, 127.0.0.1 or [::1] (any port
matches), or a private-use scheme such as com.example.app:/cb.

  --public         no secret; the client proves itself with PKCE (default)
  --confidential   also prints a client secret, once (client_secret_basic)

A pre-registered client is kept until "gatehouse client remove": it is not
purged when unused, nor removed with its last connection.
`,
  "client list": `Usage: gatehouse client list [--json]

Lists OAuth clients: client_id, source (static: pre-registered; dcr: dynamic
registration; cimd: a cached metadata document), public or confidential,
name and redirect URIs. Secrets are never shown.
`,
  "client remove": `Usage: gatehouse client remove <client_id>

Removes the client with its connections, their tokens and MCP sessions.
`,
  keys: `Usage: gatehouse keys <rotate|list> ...

  keys rotate [--alg ES256|RS256]   publish a new signing key, which signs 6 minutes later
  keys list [--json]                list signing keys
`,
  "keys rotate": `Usage: gatehouse keys rotate [--alg ES256|RS256]

Rotates the keys that sign identity tokens for HTTP upstreams (default: every
algorithm with a key; ES256 when there is none). The new key is published in
/.well-known/jwks.json at once and signs 6 minutes later (the JWKS cache
lifetime, 5 minutes, and one reload), so no verifier meets an unknown kid.
The old key stays published for 65 minutes after that (the longest token
lifetime and a margin), then leaves the JWKS. Every node follows. A second
rotation is refused while the new key does not sign yet.
`,
  "keys list": `Usage: gatehouse keys list [--json]

Lists signing keys: kid, algorithm, state (next: published, not yet signing;
current: signing; previous: published for tokens it signed; retired: out of
the JWKS, dropped at the next rotation), signs-from and leaves-JWKS times.
`,
  "user list": `Usage: gatehouse user list [--json]

Lists accounts: email, id, role (admin or user), state (active or disabled)
and creation time.
`,
  "user remove": `Usage: gatehouse user remove <email>

Removes the account, its personal API keys, MCP connections and sessions.
`,
};
