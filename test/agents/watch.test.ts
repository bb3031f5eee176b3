import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type AgentsConfigUpdate, AgentsFileWatcher } from "../../src/agents/watch.ts";

interface Captured {
  level: number;
  msg: string;
}

function capturingLogger() {
  const lines: Captured[] = [];
  const logger = pino(
    { level: "debug" },
    { write: (line: string) => lines.push(JSON.parse(line)) },
  );
  return { logger, lines };
}

const agents = (...names: string[]) =>
  JSON.stringify({
    agents: names.map((name, i) => ({ name, url: `http://127.0.0.1:${9100 + i}` })),
  });

describe("AgentsFileWatcher", () => {
  let dir: string;
  let file: string;
  let watcher: AgentsFileWatcher;
  let updates: AgentsConfigUpdate[];
  let invalid: string[];
  let log: ReturnType<typeof capturingLogger>;

  const start = async () => {
    log = capturingLogger();
    watcher = new AgentsFileWatcher({
      path: file,
      logger: log.logger,
      settings: { debounceMs: 30, pollIntervalMs: 50 },
    });
    updates = [];
    invalid = [];
    watcher.on("config", (u) => updates.push(u));
    watcher.on("invalid", (e) => invalid.push(e));
    return watcher.start();
  };
  const nextUpdate = async (count: number) => {
    const deadline = Date.now() + 10_000;
    while (updates.length < count) {
      if (Date.now() > deadline) throw new Error(`no config update #${count}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return updates[count - 1] as AgentsConfigUpdate;
  };
  const names = (u: AgentsConfigUpdate) => u.config.agents.map((a) => a.name);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "hub-watch-"));
    file = join(dir, "agents.json");
  });
  afterEach(async () => {
    await watcher?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("reads the file, then follows adds, changes and removals", async () => {
    writeFileSync(file, agents("A"));
    const first = await start();
    expect(first.ok && first.config.agents.map((a) => a.name)).toEqual(["A"]);

    writeFileSync(file, agents("A", "B"));
    expect(names(await nextUpdate(1))).toEqual(["A", "B"]);

    writeFileSync(file, JSON.stringify({ agents: [{ name: "B2", url: "http://127.0.0.1:9101" }] }));
    expect(names(await nextUpdate(2))).toEqual(["B2"]);
    expect(watcher.current.agents.map((a) => a.name)).toEqual(["B2"]);
  });

  it("an invalid edit keeps the last good config and logs one precise line", async () => {
    writeFileSync(file, agents("A", "B"));
    await start();
    writeFileSync(file, '{"agents": [ {"name": "A", "url": "http://127.0.0.1:9100"} ');
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no invalid event")), 10_000);
      watcher.once("invalid", () => {
        clearTimeout(timer);
        resolve();
      });
    });
    expect(watcher.current.agents.map((a) => a.name)).toEqual(["A", "B"]);
    const errors = log.lines.filter((l) => l.level >= 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.msg).toMatch(
      new RegExp(
        `^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:1:\\d+: invalid JSON: .*; keeping the previous 2 agents$`,
      ),
    );

    // A schema error names the entry; then a fix is applied again.
    writeFileSync(file, JSON.stringify({ agents: [{ name: "A", url: "ftp://x" }] }));
    await new Promise<void>((resolve) => watcher.once("invalid", () => resolve()));
    expect(invalid[1]).toContain('agents[0] ("A").url uses an unknown transport "ftp"');
    expect(updates).toHaveLength(0);

    writeFileSync(file, agents("C"));
    expect(names(await nextUpdate(1))).toEqual(["C"]);
  });

  it("follows rename-on-save, delete and re-create, and a file created after start", async () => {
    const first = await start();
    expect(first).toMatchObject({ ok: true, missing: true });
    expect(log.lines.some((l) => l.msg.includes("no agents file at"))).toBe(true);

    writeFileSync(file, agents("Created"));
    expect(names(await nextUpdate(1))).toEqual(["Created"]);

    const tmp = join(dir, ".agents.json.swp");
    writeFileSync(tmp, agents("Renamed"));
    renameSync(tmp, file);
    expect(names(await nextUpdate(2))).toEqual(["Renamed"]);

    rmSync(file);
    const removed = await nextUpdate(3);
    expect(removed.missing).toBe(true);
    expect(names(removed)).toEqual([]);

    writeFileSync(file, agents("Back"));
    expect(names(await nextUpdate(4))).toEqual(["Back"]);
  });

  it("does not re-emit when the text did not change", async () => {
    writeFileSync(file, agents("A"));
    await start();
    writeFileSync(file, agents("A"));
    await watcher.reload();
    writeFileSync(file, agents("B"));
    expect(names(await nextUpdate(1))).toEqual(["B"]);
    expect(updates).toHaveLength(1);
  });

  it("follows a symlinked agents.json: its target edited or saved by rename, the link re-pointed", async () => {
    // Dotfile managers keep the real file elsewhere and link it in.
    const elsewhere = join(dir, "dotfiles");
    mkdirSync(elsewhere);
    const target = join(elsewhere, "agents.json");
    writeFileSync(target, agents("A"));
    symlinkSync(target, file);
    const first = await start();
    expect(first.ok && first.config.agents.map((a) => a.name)).toEqual(["A"]);

    writeFileSync(target, agents("Edited"));
    expect(names(await nextUpdate(1))).toEqual(["Edited"]);

    const tmp = join(elsewhere, ".agents.json.swp");
    writeFileSync(tmp, agents("Renamed"));
    renameSync(tmp, target);
    expect(names(await nextUpdate(2))).toEqual(["Renamed"]);

    const other = join(elsewhere, "other.json");
    writeFileSync(other, agents("Other"));
    const link = join(dir, ".link.tmp");
    symlinkSync(other, link);
    renameSync(link, file);
    expect(names(await nextUpdate(3))).toEqual(["Other"]);
  });

  it("follows a link through a swapped folder link (how Kubernetes updates a mounted ConfigMap)", async () => {
    // agents.json -> ..data/agents.json, ..data -> ..v1; an update writes ..v2 and renames a
    // new ..data link over the old one: nothing named agents.json changes.
    const version = (name: string, text: string) => {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, "agents.json"), text);
    };
    version("..v1", agents("One"));
    symlinkSync("..v1", join(dir, "..data"));
    symlinkSync("..data/agents.json", file);
    const first = await start();
    expect(first.ok && first.config.agents.map((a) => a.name)).toEqual(["One"]);

    version("..v2", agents("Two"));
    symlinkSync("..v2", join(dir, "..data_tmp"));
    renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
    expect(names(await nextUpdate(1))).toEqual(["Two"]);
  });

  it("follows a file in a linked folder when the folder link is re-pointed", async () => {
    mkdirSync(join(dir, "a"));
    mkdirSync(join(dir, "b"));
    writeFileSync(join(dir, "a", "agents.json"), agents("A"));
    writeFileSync(join(dir, "b", "agents.json"), agents("B"));
    symlinkSync(join(dir, "a"), join(dir, "current"));
    file = join(dir, "current", "agents.json");
    await start();
    symlinkSync(join(dir, "b"), join(dir, "next"));
    renameSync(join(dir, "next"), join(dir, "current"));
    expect(names(await nextUpdate(1))).toEqual(["B"]);
  });

  it("reads a dangling link's target once it appears", async () => {
    mkdirSync(join(dir, "later"));
    symlinkSync(join(dir, "later", "agents.json"), file);
    expect(await start()).toMatchObject({ ok: true, missing: true });
    writeFileSync(join(dir, "later", "agents.json"), agents("Late"));
    expect(names(await nextUpdate(1))).toEqual(["Late"]);
  });
});
