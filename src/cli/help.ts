export type CommandName = "main" | "start" | "migrate" | "user" | "user add" | "user list" | "user remove";

const ENV = `
Environment: PORT, GATEHOUSE_PUBLIC_URL, DATABASE_URL, GATEHOUSE_DATA_DIR and
the others listed in the README. Without DATABASE_URL the data lives in an
embedded database under GATEHOUSE_DATA_DIR (./data).
`;

export const HELP: Record<CommandName, string> = {
  main: `Usage: gatehouse <command> [options]

Commands:
  start [--port N] [--log-format json]   migrate, then serve MCP, OAuth and the console
  migrate                                apply database migrations and exit
  user add <email> [--password-stdin]    create an account
  user list [--json]                     list accounts
  user remove <email>                    remove an account with its keys, connections and sessions

Options:
  -h, --help   show help (also after any command)
${ENV}
Exit codes: 0 success, 1 failure, 2 usage error.
`,
  start: `Usage: gatehouse start [--port N] [--log-format text|json]

Applies migrations, then serves on PORT (8787). On a database with no
accounts it prints a one-time link that creates the first one.
SIGTERM or SIGINT stops taking requests, drains open ones and exits.
${ENV}`,
  migrate: `Usage: gatehouse migrate

Applies the database migrations and exits. Safe to run while a server runs.
${ENV}`,
  user: `Usage: gatehouse user <add|list|remove> ...

  user add <email> [--password-stdin]   create an account
  user list [--json]                    list accounts
  user remove <email>                   remove an account
`,
  "user add": `Usage: gatehouse user add <email> [--password-stdin]

Creates an account. With --password-stdin the password is read from standard
input; without it, a one-time link to set the password is printed.
`,
  "user list": `Usage: gatehouse user list [--json]

Lists accounts: email, id and creation time.
`,
  "user remove": `Usage: gatehouse user remove <email>

Removes the account, its personal API keys, MCP connections and sessions.
`,
};
