// The hub lock on real files and real processes: one holder at a time, dropped by the kernel
// when the holder dies however it dies, and a holder record believed only for the live process
// it names.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  acquireHubLock,
  HUB_LOCK_FILE,
  HUB_LOCK_HOLDER_FILE,
  hubLockState,
} from "../../src/config/hub-lock.ts";

const LOCK_HOLDER = fileURLToPath(new URL("../ops/fixtures/lock-holder.ts", import.meta.url));

let dir: string;
const children: ChildProcess[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "hybro-lock-unit-"));
});
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

async function holderProcess(): Promise<ChildProcess> {
  const child = spawn(process.execPath, [LOCK_HOLDER, dir], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  const [chunk] = (await once(child.stdout as NodeJS.ReadableStream, "data")) as [Buffer];
  expect(chunk.toString()).toBe(`holding ${child.pid}\n`);
  return child;
}

describe("hub lock", () => {
  it("has one holder at a time, says who, and can be taken again once released", () => {
    expect(hubLockState(dir)).toEqual({ held: false });
    const first = acquireHubLock(dir);
    if (!first.ok) throw new Error(first.message);
    expect(statSync(join(dir, HUB_LOCK_FILE)).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, HUB_LOCK_HOLDER_FILE)).mode & 0o777).toBe(0o600);

    const second = acquireHubLock(dir);
    expect(second.ok).toBe(false);
    if (!second.ok) {
      expect(second.holder?.pid).toBe(process.pid);
      expect(second.message).toMatch(/already running \(pid \d+, holding .*hub\.lock\)/);
    }
    expect(hubLockState(dir)).toMatchObject({ held: true, holder: { pid: process.pid } });

    first.lock.release();
    expect(existsSync(join(dir, HUB_LOCK_HOLDER_FILE))).toBe(false);
    expect(hubLockState(dir)).toEqual({ held: false });
    const again = acquireHubLock(dir);
    expect(again.ok).toBe(true);
    if (again.ok) again.lock.release();
  });

  it("is dropped by the kernel when its holder is killed with SIGKILL", async () => {
    const child = await holderProcess();
    expect(hubLockState(dir)).toMatchObject({ held: true, holder: { pid: child.pid } });
    expect(acquireHubLock(dir).ok).toBe(false);
    child.kill("SIGKILL");
    await once(child, "exit");
    await vi.waitFor(() => expect(hubLockState(dir)).toEqual({ held: false }));
    const taken = acquireHubLock(dir);
    expect(taken.ok).toBe(true);
    if (taken.ok) taken.lock.release();
  });

  it("does not believe a record that names another process, or a leftover record", async () => {
    await holderProcess();
    writeFileSync(
      join(dir, HUB_LOCK_HOLDER_FILE),
      `${JSON.stringify({ pid: process.pid, start: "linux:not-our-start" })}\n`,
    );
    expect(hubLockState(dir)).toMatchObject({ held: true, holder: null });
    for (const child of children.splice(0)) {
      child.kill("SIGKILL");
      await once(child, "exit");
    }
    // The record stays behind, naming a live process: without the lock it means nothing.
    await vi.waitFor(() => expect(hubLockState(dir)).toEqual({ held: false }));
  });
});
