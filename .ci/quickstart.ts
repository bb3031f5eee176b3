// The README's quick start from a fresh clone, then the packed package as a user installs it.
// Run by .ci/run after `npm test`; also by hand: `node .ci/quickstart.ts` (it clones this
// checkout's HEAD, so commit first). Fails on a broken step; prints how long each one took but
// asserts no duration (CI machines differ).
//
//   fresh clone → npm ci → `npm run dev` → the printed curl line answers
//   npm pack: no source maps, no example importing ../src
//   the tarball installed into an empty project: no npm warning, the bin (also on an old Node),
//   `hybro-hub init` + `dev`, and the SDK example from node_modules
//
// HOME is a fresh folder; npm's cache stays the machine's own (a warm cache, as the README
// assumes after a first install).
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { nodeVersionProblem } from "../src/cli/node-version.ts";

const checkout = join(import.meta.dirname, "..");
const work = mkdtempSync(join(tmpdir(), "hybro-quickstart-"));
const home = join(work, "home");
mkdirSync(home);
const npmCache = execFileSync("npm", ["config", "get", "cache"], { encoding: "utf8" }).trim();
const env: NodeJS.ProcessEnv = {
  ...process.env,
  HOME: home,
  XDG_CONFIG_HOME: join(home, ".config"),
  XDG_DATA_HOME: join(home, ".local/share"),
  XDG_STATE_HOME: join(home, ".local/state"),
  XDG_RUNTIME_DIR: join(home, "run"),
  npm_config_cache: npmCache,
  npm_config_update_notifier: "false",
};
for (const name of ["HYBRO_API_KEY", "HYBRO_GATEWAY_URL", "HYBRO_HUB_HOME", "NOTIFY_SOCKET"]) {
  delete env[name];
}
const timings: Array<[step: string, ms: number]> = [];
const failures: string[] = [];
const started: ChildProcess[] = [];
const t0 = performance.now();

function check(ok: boolean, what: string): void {
  console.log(`${ok ? "ok  " : "FAIL"}  ${what}`);
  if (!ok) failures.push(what);
}

function run(
  command: string,
  args: string[],
  cwd: string,
  extraEnv: NodeJS.ProcessEnv = {},
): { code: number | null; out: string; stdout: string; ms: number } {
  const begin = performance.now();
  const result = spawnSync(command, args, {
    cwd,
    env: { ...env, ...extraEnv },
    encoding: "utf8",
    timeout: 600_000,
  });
  return {
    code: result.status,
    out: `${result.stdout ?? ""}${result.stderr ?? ""}`,
    stdout: result.stdout ?? "",
    ms: performance.now() - begin,
  };
}

/** Starts a long-running command in its own process group and waits for `ready` in its output. */
async function startUntil(
  command: string,
  args: string[],
  cwd: string,
  ready: RegExp,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<{
  child: ChildProcess;
  output: () => string;
  firstOutputMs: number;
  /** When each line first appeared (ms after the start), for the timing table. */
  lineAt: (fragment: string) => number;
  readyMs: number;
}> {
  const begin = performance.now();
  const child = spawn(command, args, {
    cwd,
    env: { ...env, ...extraEnv },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  started.push(child);
  let output = "";
  let firstOutputMs = Number.NaN;
  const lines: Array<[line: string, ms: number]> = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${command} ${args.join(" ")}: not ready in 120 s:\n${output}`)),
      120_000,
    );
    const onData = (chunk: Buffer) => {
      if (Number.isNaN(firstOutputMs)) firstOutputMs = performance.now() - begin;
      const text = chunk.toString("utf8");
      for (const line of text.split("\n")) lines.push([line, performance.now() - begin]);
      output += text;
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve({
          child,
          output: () => output,
          firstOutputMs,
          lineAt: (fragment) => lines.find(([line]) => line.includes(fragment))?.[1] ?? Number.NaN,
          readyMs: performance.now() - begin,
        });
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} ${args.join(" ")} exited with ${code}:\n${output}`));
    });
  });
}

/** Ctrl-C, as a terminal sends it: SIGINT to the whole process group; resolves to the exit code. */
function interrupt(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    child.once("exit", (code) => resolve(code));
    process.kill(-(child.pid ?? 0), "SIGINT");
  });
}

/** The first curl line dev printed, run with curl (or fetch when there is no curl). */
function runCurlLine(output: string): string {
  const match =
    /curl -s (\S+) \\\n {2}-H 'X-API-Key: (hybro_\w+)' -H 'Content-Type: application\/json' \\\n {2}-d '(.+)'/.exec(
      output,
    );
  if (!match) return `no curl line in:\n${output}`;
  const [, url = "", key = "", body = ""] = match;
  const curl = spawnSync(
    "curl",
    ["-s", url, "-H", `X-API-Key: ${key}`, "-H", "Content-Type: application/json", "-d", body],
    { encoding: "utf8", timeout: 60_000 },
  );
  return curl.error ? `curl: ${curl.error.message}` : curl.stdout;
}

/** The README section's first sh block, as command lines. */
function readmeCommands(readme: string, heading: string): string[] {
  const start = readme.indexOf(`\n${heading}\n`);
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(start))?.[1] ?? "";
  return block
    .split("\n")
    .map((line) => line.replace(/#.*$/, "").trim())
    .filter(Boolean);
}

function oldNode(): { path: string; version: string } | null {
  for (const path of [
    ...(process.env.PATH ?? "").split(delimiter).map((dir) => join(dir, "node")),
    "/usr/bin/node",
    "/usr/local/bin/node",
  ]) {
    if (!existsSync(path)) continue;
    const version = spawnSync(path, ["--version"], { encoding: "utf8" }).stdout?.trim() ?? "";
    if (nodeVersionProblem(version, path)) return { path, version };
  }
  return null;
}

async function main(): Promise<void> {
  // 1. Clone, install, quick start.
  const clone = join(work, "clone");
  const cloned = run("git", ["clone", "--quiet", "--no-hardlinks", checkout, clone], work);
  check(cloned.code === 0, `git clone (${cloned.out.trim() || "HEAD of this checkout"})`);
  timings.push(["git clone", cloned.ms]);

  const readme = readFileSync(join(clone, "README.md"), "utf8");
  const commands = readmeCommands(readme, "## Quick start");
  check(
    commands.length === 2 && commands[0] === "npm ci" && commands[1] === "npm run dev",
    `the README's quick start is \`npm ci\`, \`npm run dev\` (found: ${JSON.stringify(commands)})`,
  );
  const install = run("npm", ["ci", "--no-audit", "--no-fund"], clone);
  check(install.code === 0, "npm ci");
  check(
    !/npm warn/i.test(install.out),
    `npm ci prints no warning${/npm warn/i.test(install.out) ? `:\n${install.out}` : ""}`,
  );
  check(!existsSync(join(clone, "dist")), "npm ci builds nothing (no dist/)");
  timings.push(["npm ci", install.ms]);

  const dev = await startUntil("npm", ["run", "dev", "--", "--port", "0"], clone, /Ctrl-C stops/, {
    HYBRO_HUB_HOME: join(work, "dev-home"),
  });
  timings.push(["npm run dev: first output (npm's)", dev.firstOutputMs]);
  timings.push(["npm run dev: dev's first line", dev.lineAt("hybro-hub dev: starting")]);
  const devLine = dev.output().indexOf("hybro-hub dev: starting");
  check(
    devLine >= 0 && devLine < dev.output().indexOf("Ctrl-C stops"),
    "dev says what it starts before it is ready",
  );
  timings.push(["npm run dev: curl lines printed", dev.readyMs]);
  const answerAt = performance.now();
  const answer = runCurlLine(dev.output());
  check(
    answer.includes('"text":"echo: Hello!"'),
    `the printed curl line answers "echo: Hello!"${answer.includes("echo: Hello!") ? "" : `: ${answer}`}`,
  );
  timings.push(["curl answer", performance.now() - answerAt]);
  timings.push(["clone → first answer (total)", performance.now() - t0]);
  // (npm itself ends on the signal; dev's own exit code is checked in test/ops/dev.test.ts)
  await interrupt(dev.child);
  check(true, "Ctrl-C stops npm run dev");

  // 2. The package.
  const packed = run("npm", ["pack", "--json", "--pack-destination", work], clone);
  check(packed.code === 0, "npm pack (builds dist/ through prepack)");
  timings.push(["npm pack (with the build)", packed.ms]);
  // stdout: the build's lines (prepack), then the JSON listing.
  const listing = JSON.parse(packed.stdout.slice(packed.stdout.search(/^\[/m))) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  const files = listing[0]?.files.map((file) => file.path) ?? [];
  const tarball = join(work, listing[0]?.filename ?? "missing.tgz");
  check(files.includes("dist/cli/main.js"), "the tarball has the bin");
  check(!files.some((file) => file.endsWith(".map")), "no source maps in the tarball");
  check(!files.some((file) => file.startsWith("src/")), "no sources in the tarball");
  const relativeToSrc = files.filter(
    (file) =>
      file.startsWith("examples/") && readFileSync(join(clone, file), "utf8").includes("../src"),
  );
  check(relativeToSrc.length === 0, `no example imports ../src ${relativeToSrc.join(" ")}`);
  check(files.includes("CHANGELOG.md"), "CHANGELOG.md is in the tarball");
  check(
    ["index.html", "app.js", "app.css"].every((name) =>
      files.includes(`dist/inspector/web/${name}`),
    ),
    "the inspector's web files are in the tarball (tsc does not copy them; the build does)",
  );

  const project = join(work, "project");
  mkdirSync(project);
  run("npm", ["init", "-y"], project);
  const installed = run("npm", ["install", "--no-audit", "--no-fund", tarball], project);
  check(installed.code === 0, "npm install of the tarball into an empty project");
  check(
    !/npm warn/i.test(installed.out),
    `installing prints no warning${/npm warn/i.test(installed.out) ? `:\n${installed.out}` : ""}`,
  );
  timings.push(["npm install <tarball>", installed.ms]);
  const bin = join(project, "node_modules/.bin/hybro-hub");
  const version = run(bin, ["--version"], project);
  check(
    version.code === 0 && /^\d+\.\d+\.\d+\n$/.test(version.out),
    `installed bin: --version → ${version.out.trim()}`,
  );

  const old = oldNode();
  if (old) {
    const gate = run(
      old.path,
      [join(project, "node_modules/hybro-hub/dist/cli/main.js"), "--help"],
      project,
    );
    check(
      gate.code === 2 && gate.out === `error: ${nodeVersionProblem(old.version, old.path)}\n`,
      `on ${old.path} (${old.version}) the bin says so in one line, exit 2 (got ${gate.code}: ${gate.out.trim()})`,
    );
  } else {
    console.log("skip  the old-Node check: no Node older than 22.22 on this machine");
  }

  // 3. Installed: init, dev on the init'd file, and the SDK example from node_modules.
  const hubHome = join(work, "hub-home");
  const hubEnv = { HYBRO_HUB_HOME: hubHome };
  const init = run("npx", ["hybro-hub", "init"], project, hubEnv);
  check(init.code === 0, "npx hybro-hub init (in the project)");
  const agentsFile = join(hubHome, "config", "agents.json");
  const installedDev = await startUntil(
    "npx",
    ["hybro-hub", "dev", "--port", "0", "--agents", agentsFile],
    project,
    /Ctrl-C stops/,
    hubEnv,
  );
  check(
    runCurlLine(installedDev.output()).includes("echo: Hello!"),
    "dev on the agents.json init wrote answers, run from another folder",
  );
  const inspectorUrl = /^inspector \(every turn[^)]*\): (\S+)$/m.exec(installedDev.output())?.[1];
  const page = inspectorUrl ? await fetch(inspectorUrl).catch(() => null) : null;
  const script = inspectorUrl ? await fetch(`${inspectorUrl}app.js`).catch(() => null) : null;
  check(
    page?.status === 200 &&
      (await page.text()).includes("hybro-hub inspector") &&
      script?.status === 200,
    `the installed dev serves the inspector's page and scripts from dist/ (${inspectorUrl ? `page ${page?.status}, app.js ${script?.status}` : "no inspector line"})`,
  );
  await interrupt(installedDev.child);

  const relay = await startUntil(
    "npx",
    ["hybro-hub", "relay", "--port", "0"],
    project,
    /relay listening on/,
    hubEnv,
  );
  const url = /relay listening on (\S+)/.exec(relay.output())?.[1] ?? "";
  const created = run(
    "npx",
    ["hybro-hub", "relay", "keys", "create", "--name", "me", "--scope", "*"],
    project,
    hubEnv,
  );
  const key = /^key: (hybro_\w+)$/m.exec(created.out)?.[1] ?? "";
  check(key !== "", "relay keys create --scope '*' prints a key");
  const sdkEnv = { ...hubEnv, HYBRO_GATEWAY_URL: url, HYBRO_API_KEY: key };
  const hub = await startUntil(
    "npx",
    ["hybro-hub", "start", "--foreground"],
    project,
    /hub ready: 1 agent synced/,
    sdkEnv,
  );
  for (const [where, script, cwd] of [
    ["installed", "node_modules/hybro-hub/examples/gateway-client.mjs", project],
    ["clone (after the build npm pack made)", "examples/gateway-client.mjs", clone],
  ] as const) {
    const example = run("node", [script, "echo", "Hello there"], cwd, sdkEnv);
    check(
      example.code === 0 &&
        example.out.includes(
          "send → [completed] echo: Hello there\nstream → echo: And once more, streamed\n",
        ),
      `the SDK example, ${where}: ${example.code === 0 ? "answers as the README shows" : example.out}`,
    );
  }
  await interrupt(hub.child);
  await interrupt(relay.child);
}

try {
  await main();
} catch (error) {
  failures.push((error as Error).message);
  console.log(`FAIL  ${(error as Error).message}`);
} finally {
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-(child.pid ?? 0), "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  rmSync(work, { recursive: true, force: true });
}
console.log("\nstep                                   seconds");
for (const [step, ms] of timings)
  console.log(`${step.padEnd(38)} ${(ms / 1000).toFixed(1).padStart(7)}`);
if (failures.length > 0) {
  console.log(`\n${failures.length} check(s) failed`);
  process.exit(1);
}
console.log("\nthe quick start and the package work as the README says");
