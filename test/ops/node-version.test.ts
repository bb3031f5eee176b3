// The bin's Node version gate: one line and exit code 2 on a Node older than 22.22, before
// anything that needs a newer Node is loaded. Run with the machine's own old Node when it has one
// (HYBRO_OLD_NODE=/path/to/node names one); skipped, visibly, otherwise.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { stripTypeScriptTypes } from "node:module";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { nodeVersionProblem } from "../../src/cli/node-version.ts";
import { ExitCode } from "../../src/system/exit-codes.ts";
import { REPO_ROOT } from "./cli-runner.ts";

/** A `node` older than 22.22 on this machine (PATH, /usr/bin, /usr/local/bin), with its version. */
function findOldNode(): { path: string; version: string } | null {
  const candidates = [
    process.env.HYBRO_OLD_NODE,
    ...(process.env.PATH ?? "").split(delimiter).map((dir) => join(dir, "node")),
    "/usr/bin/node",
    "/usr/local/bin/node",
  ];
  for (const path of candidates) {
    if (!path || !existsSync(path)) continue;
    try {
      const version = execFileSync(path, ["--version"], { encoding: "utf8" }).trim();
      if (nodeVersionProblem(version, path)) return { path, version };
    } catch {
      // not runnable
    }
  }
  return null;
}

/**
 * The bin's entry as JavaScript, as the build makes it: main.ts and the two modules it imports
 * statically, types stripped, `.ts` imports renamed. An old Node cannot load `.ts` at all.
 */
function entryAsJavaScript(dir: string): string {
  writeFileSync(join(dir, "package.json"), '{"type": "module"}');
  for (const name of ["cli/main", "system/exit-codes", "cli/node-version"]) {
    const source = readFileSync(join(REPO_ROOT, "src", `${name}.ts`), "utf8");
    const code = stripTypeScriptTypes(source).replace(
      /(from |import\()"(\.\.?\/[\w/-]+)\.ts"/g,
      '$1"$2.js"',
    );
    mkdirSync(join(dir, dirname(name)), { recursive: true });
    writeFileSync(join(dir, `${name}.js`), code);
  }
  return join(dir, "cli/main.js");
}

describe("the Node version gate", () => {
  it("names the Node that runs it, and passes 22.22 and newer", () => {
    expect(nodeVersionProblem("v20.20.2", "/usr/bin/node")).toBe(
      "hybro-hub needs Node.js ≥ 22.22; you have v20.20.2 (/usr/bin/node). Install Node.js 24 LTS (or ≥ 22.22) and run it again.",
    );
    expect(nodeVersionProblem("22.21.9", "node")).toContain("you have v22.21.9");
    expect(nodeVersionProblem("v18.0.0", "node")).not.toBeNull();
    for (const fine of ["v22.22.0", "22.23.3", "v23.0.0", "v24.21.0", "v30.1.0"]) {
      expect(nodeVersionProblem(fine, "node")).toBeNull();
    }
  });

  const old = findOldNode();
  it.skipIf(!old)(
    `stops the bin on an old Node with one line and exit code 2${old ? ` (${old.path}, ${old.version})` : " (skipped: no Node older than 22.22 on this machine; set HYBRO_OLD_NODE)"}`,
    () => {
      const dir = mkdtempSync(join(tmpdir(), "hybro-old-node-"));
      try {
        const entry = entryAsJavaScript(dir);
        for (const args of [["--help"], ["dev"], ["status"]]) {
          const result = spawnSync(old?.path ?? "node", [entry, ...args], { encoding: "utf8" });
          expect(result.status).toBe(ExitCode.usage);
          expect(result.stdout).toBe("");
          expect(result.stderr).toBe(
            `error: hybro-hub needs Node.js ≥ 22.22; you have ${old?.version} (${old?.path}). Install Node.js 24 LTS (or ≥ 22.22) and run it again.\n`,
          );
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
