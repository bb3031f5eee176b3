// `npm run test:unit` must stay fast: none of its files may (directly) import what starts a
// server, a child process or a file watcher. A file that needs one belongs to the integration
// project (remove it from test/unit-files.ts).
import { globSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { UNIT_TEST_FILES } from "../unit-files.ts";
import { importsOf, REPO_ROOT } from "./import-graph.ts";

const STARTS_SOMETHING = [
  "node:child_process",
  "node:http",
  "node:https",
  "node:net",
  "execa",
  "chokidar",
  "ws",
  "express",
  "src/agents/transports/stdio.ts",
  "src/agents/watch.ts",
  "src/devrelay/index.ts",
  "src/daemon/daemon.ts",
  "test/support/stack.ts",
  "test/support/agents-per-test.ts",
  "test/devrelay/support.ts",
  "test/ops/cli-runner.ts",
];

describe("the unit test set", () => {
  const files = [...new Set(UNIT_TEST_FILES.flatMap((g) => globSync(g, { cwd: REPO_ROOT })))];

  it("matches files, each of which exists", () => {
    expect(files.length).toBeGreaterThan(30);
    for (const glob of UNIT_TEST_FILES) {
      expect(globSync(glob, { cwd: REPO_ROOT }), glob).not.toEqual([]);
    }
  });

  it("imports nothing that starts a server, a process or a watcher", () => {
    const offending = files.flatMap((file) =>
      importsOf(file)
        .filter((target) => STARTS_SOMETHING.includes(target))
        .map((target) => `${file} imports ${target}`),
    );
    expect(offending).toEqual([]);
  });
});
