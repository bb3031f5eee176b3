// A stdio agent and every process it started. The agent runs in a process group of its own
// (spawned detached), so one signal reaches it and the helpers it started; helpers that left the
// group (a daemonising tool calls setsid) are found through their parent links, which only lead
// to the agent while it runs, hence `survey()` before each step of a stop. A pid noted that way
// is signalled only while it is still the same process (its start identity), never a reused pid.
import { pollUntil } from "../../async/poll.ts";
import {
  descendantsOf,
  liveGroupMembers,
  processStartIdentity,
  processTable,
} from "../../system/processes.ts";

const POLL_MS = 100;

/** Families with members possibly alive; signalled if the hub exits without stopping them. */
const living = new Set<ProcessFamily>();
let exitHookInstalled = false;

export class ProcessFamily {
  /** The agent's pid, which is also its process group id. */
  readonly leader: number;
  /** Descendants seen outside the group, by pid, with their start identity. */
  readonly #strays = new Map<number, string>();

  constructor(leader: number) {
    this.leader = leader;
    living.add(this);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      // A hub that exits without a stop (a crash) still takes its agents' families along.
      process.once("exit", () => {
        for (const family of living) family.signal("SIGTERM");
      });
    }
  }

  /** Notes the agent's descendants that left its group (possible only while it runs). */
  survey(): void {
    const table = processTable();
    const members = new Set(liveGroupMembers(this.leader, table));
    for (const pid of descendantsOf(this.leader, table)) {
      if (members.has(pid) || this.#strays.has(pid)) continue;
      const start = processStartIdentity(pid);
      if (start) this.#strays.set(pid, start);
    }
  }

  /** Pids of the family still running (zombies do not count). */
  alive(): number[] {
    // The process table is read only while the group has members: an empty group is the norm.
    const pids = groupHasMembers(this.leader) ? liveGroupMembers(this.leader, processTable()) : [];
    for (const [pid, start] of this.#strays) {
      if (processStartIdentity(pid) === start) pids.push(pid);
      else this.#strays.delete(pid);
    }
    if (pids.length === 0) living.delete(this);
    return pids;
  }

  /** Sends `signal` to the whole group and to each stray that is still the same process. */
  signal(signal: NodeJS.Signals): void {
    sendSignal(-this.leader, signal);
    for (const [pid, start] of this.#strays) {
      if (processStartIdentity(pid) === start) sendSignal(pid, signal);
    }
  }

  /**
   * Stops whatever of the family still runs: SIGTERM, up to `graceMs` to exit, then SIGKILL.
   * Resolves to the pids still running after that (normally none).
   */
  async stop(graceMs: number): Promise<number[]> {
    if (this.alive().length === 0) return [];
    this.signal("SIGTERM");
    if (await this.#goneWithin(graceMs)) return [];
    this.signal("SIGKILL");
    await this.#goneWithin(graceMs);
    return this.alive();
  }

  #goneWithin(ms: number): Promise<boolean> {
    return pollUntil(() => this.alive().length === 0, ms, POLL_MS);
  }
}

/** Whether any process (zombies included) is still in the group. */
function groupHasMembers(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

function sendSignal(target: number, signal: NodeJS.Signals): void {
  try {
    process.kill(target, signal);
  } catch {
    // gone already (ESRCH), or not ours to signal (EPERM): nothing more to do
  }
}
