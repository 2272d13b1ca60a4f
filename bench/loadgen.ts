/**
 * The parent side of the load generator: forks bench/load.ts once and runs
 * load specs through it, measuring this process's CPU (where every server
 * under test lives) around each run.
 */
import { fork, type ChildProcess } from "node:child_process";
import type { LoadMessage, LoadReply, RunResult, RunSpec, SessionsSpec } from "./load.js";

export interface Measured extends RunResult {
  perSecond: number;
  /** CPU time of this (the servers') process per request, in microseconds. */
  cpuUsPerRequest: number;
}

export class LoadClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();

  private constructor(private readonly child: ChildProcess) {
    child.on("message", (reply: LoadReply) => {
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.ok) waiter?.resolve(reply.result);
      else waiter?.reject(new Error(reply.error));
    });
    child.on("exit", (code) => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`load generator exited (${code})`));
      this.pending.clear();
    });
  }

  static start(): LoadClient {
    const child = fork(new URL("./load.ts", import.meta.url), [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    return new LoadClient(child);
  }

  private call<T>(message: Omit<LoadMessage, "id">): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.child.send({ ...message, id });
    });
  }

  async run(spec: RunSpec): Promise<Measured> {
    const cpu = process.cpuUsage();
    const result = await this.call<RunResult>({ op: "run", spec });
    const used = process.cpuUsage(cpu);
    return {
      ...result,
      perSecond: result.count / (result.elapsedMs / 1000),
      cpuUsPerRequest: (used.user + used.system) / Math.max(1, result.count),
    };
  }

  sessions(spec: SessionsSpec): Promise<string[]> {
    return this.call<string[]>({ op: "sessions", spec });
  }

  close(): Promise<void> {
    if (this.child.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once("exit", () => resolve());
      this.child.disconnect();
    });
  }
}
