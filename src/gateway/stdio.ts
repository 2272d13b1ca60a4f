/**
 * An MCP stdio client transport whose child runs in its own process group.
 *
 * Why not the SDK's `StdioClientTransport`: it spawns the command in our
 * process group and signals only the child. Upstream commands are very often
 * wrappers (`npx`, `uvx`, `sh -c`, `docker run`) whose real server is a
 * grandchild; killing the wrapper alone leaves that grandchild orphaned. Here
 * the child leads its own group (`detached`), and every stop signals the
 * whole group. The framing is the SDK's own (`ReadBuffer`, `serializeMessage`).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { ReadBuffer, serializeMessage, type JSONRPCMessage, type Transport } from "@modelcontextprotocol/client";

export interface StdioParameters {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  /** Each line the child writes to stderr. */
  onStderrLine: (line: string) => void;
}

/** Variables a server needs to run at all; nothing else of ours (tokens, DATABASE_URL) leaks into the child. */
const INHERITED = ["HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER", "LANG", "TMPDIR", "NODE_OPTIONS", "SystemRoot"];

function baseEnvironment(): Record<string, string> {
  return Object.fromEntries(INHERITED.flatMap((name) => (process.env[name] === undefined ? [] : [[name, process.env[name]!]])));
}

/** Signals the child's whole process group; a group already gone is not an error. */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: nothing left in the group.
  }
}

export class GroupStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  private child: ChildProcess | undefined;
  private readonly buffer = new ReadBuffer();
  private exited: Promise<void> = Promise.resolve();

  constructor(private readonly params: StdioParameters) {}

  /**
   * The SDK's client runs notification handlers a microtask later but settles a response at once, and
   * forgets a request's progress handler when its response comes: a call's last progress notification,
   * read in the same chunk as the response, would be dropped. A response waits one macrotask, so the
   * notifications read before it are handled first.
   */
  private deliver(message: JSONRPCMessage): void {
    if ("id" in message && !("method" in message)) setImmediate(() => this.onmessage?.(message));
    else this.onmessage?.(message);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.params.command, this.params.args, {
        env: { ...baseEnvironment(), ...this.params.env },
        ...(this.params.cwd ? { cwd: this.params.cwd } : {}),
        stdio: ["pipe", "pipe", "pipe"],
        detached: true,
        shell: false,
      });
      this.child = child;
      this.exited = new Promise((done) => child.once("exit", () => done()));
      child.once("error", (error) => {
        reject(error);
        this.onerror?.(error);
      });
      child.once("spawn", () => resolve());
      child.once("exit", () => {
        // The leader is gone; whatever it started goes with it (no orphans after a crash either).
        if (child.pid) signalGroup(child.pid, "SIGKILL");
        this.child = undefined;
        this.onclose?.();
      });
      child.stdin?.on("error", (error) => this.onerror?.(error));
      child.stdout?.on("data", (chunk: Buffer) => {
        try {
          this.buffer.append(chunk);
        } catch (error) {
          // Over the SDK's buffer limit: the stream cannot be resynchronised, so the process is restarted.
          this.onerror?.(error as Error);
          void this.close();
          return;
        }
        for (;;) {
          let message: JSONRPCMessage | null;
          try {
            message = this.buffer.readMessage();
          } catch (error) {
            // A line that is not JSON-RPC (a stray console.log) is reported, not fatal.
            this.onerror?.(error as Error);
            continue;
          }
          if (message === null) break;
          this.deliver(message);
        }
      });
      if (child.stderr) createInterface({ input: child.stderr }).on("line", (line) => this.params.onStderrLine(line));
    });
  }

  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.child?.stdin;
    if (!stdin?.writable) return Promise.reject(new Error("the upstream process is not running"));
    return new Promise((resolve) => {
      if (stdin.write(serializeMessage(message))) resolve();
      else stdin.once("drain", resolve);
    });
  }

  /** Ends stdin (the polite stop), then SIGTERM to the group, then SIGKILL; resolves once the leader exited. */
  async close(): Promise<void> {
    const child = this.child;
    if (!child?.pid) return;
    const pid = child.pid;
    child.stdin?.end();
    const wait = (ms: number) => Promise.race([this.exited, new Promise<void>((r) => setTimeout(r, ms).unref())]);
    await wait(500);
    if (child.exitCode === null && child.signalCode === null) {
      signalGroup(pid, "SIGTERM");
      await wait(2000);
    }
    signalGroup(pid, "SIGKILL");
    await wait(1000);
    this.buffer.clear();
  }
}
