// What the tests that run a whole hub process (in a child, or in the test's own process) share:
// a throwaway home folder, a development relay in memory and echo agents (A2A 1.0), with
// agents.json written into the home. `close()` (afterAll) stops them and any hub child the test
// handed to `own()`, and removes the folder.
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DevRelay, startDevRelay } from "../../src/devrelay/index.ts";
import { startTestAgent, type TestAgent } from "./a2a-agents.ts";

export interface EchoAgentSpec {
  /** The name its card gives and agents.json lists. */
  name: string;
  streaming?: boolean;
}

export interface HubHome {
  readonly home: string;
  readonly relay: DevRelay;
  /** One per spec, in order. */
  readonly agents: readonly TestAgent[];
  /** Writes `<home>/agents.json` listing the agents named (default: all) by URL; its path. */
  writeAgentsFile(names?: readonly string[]): string;
  /** A hub child process to kill (if still running) before the rest closes. */
  own(child: ChildProcess): void;
  close(): Promise<void>;
}

export async function startHubHome(
  prefix: string,
  specs: readonly EchoAgentSpec[],
): Promise<HubHome> {
  const home = mkdtempSync(join(tmpdir(), prefix));
  const children: ChildProcess[] = [];
  const agents: TestAgent[] = [];
  const byName = new Map<string, TestAgent>();
  let relay: DevRelay | undefined;
  const close = async () => {
    for (const child of children) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      child.kill("SIGKILL");
      await once(child, "exit");
    }
    await relay?.close();
    for (const agent of agents) await agent.close();
    rmSync(home, { recursive: true, force: true });
  };
  try {
    relay = await startDevRelay({ port: 0, memory: true });
    for (const spec of specs) {
      const agent = await startTestAgent({
        dialect: "1.0",
        streaming: spec.streaming ?? false,
        behaviour: "echo",
        name: spec.name,
      });
      agents.push(agent);
      byName.set(spec.name, agent);
    }
  } catch (error) {
    await close();
    throw error;
  }
  return {
    home,
    relay,
    agents,
    writeAgentsFile(names = [...byName.keys()]) {
      const file = join(home, "agents.json");
      const entries = names.map((name) => ({ name, url: byName.get(name)?.url }));
      writeFileSync(file, JSON.stringify({ agents: entries }));
      return file;
    },
    own(child) {
      children.push(child);
    },
    close,
  };
}
