// Which process is the hub of this data folder, proven, for `stop` and `status`. Two proofs
// count: the control socket (in our private runtime folder) answers with this data folder's hub
// id, or the process holds the data folder's hub lock (see config/hub-lock.ts). A pid file, a
// command line that mentions "hybro" or a socket in a folder others may enter prove nothing.
import { readHubId } from "../config/hub-id.ts";
import { hubLockState, type LockHolder } from "../config/hub-lock.ts";
import type { HubPaths } from "../config/paths.ts";
import { controlSocketPath } from "../config/runtime-files.ts";
import { askDaemon, DaemonNotRunningError, UnsafeRuntimeFolderError } from "../control/client.ts";
import type { DaemonStatus } from "../control/protocol.ts";
import { processStartIdentity } from "../system/processes.ts";

type RunningHub =
  /** It answered on its control socket. */
  | { kind: "answering"; status: DaemonStatus; holder: LockHolder }
  /** It holds the hub lock but its socket does not answer (hung, or the folder was removed). */
  | { kind: "silent"; holder: LockHolder; why: string }
  /** The lock is held but the process holding it cannot be named yet (a hub starting up). */
  | { kind: "unproven"; message: string }
  /** No hub runs on this data folder. `problem`: something to report anyway (an unsafe folder). */
  | { kind: "none"; problem: string | null };

export async function findRunningHub(paths: HubPaths, askTimeoutMs: number): Promise<RunningHub> {
  const socketPath = controlSocketPath(paths);
  let why = `its control socket ${socketPath} does not answer`;
  let problem: string | null = null;
  try {
    const status = await askDaemon(socketPath, "status", { timeoutMs: askTimeoutMs });
    const start = processStartIdentity(status.pid);
    if (status.hubId === readHubId(paths.data) && start !== null) {
      return { kind: "answering", status, holder: { pid: status.pid, start } };
    }
    why = `the hub answering on ${socketPath} (pid ${status.pid}) uses another data folder`;
  } catch (error) {
    if (error instanceof UnsafeRuntimeFolderError) {
      problem = error.message;
      why = error.message;
    } else if (!(error instanceof DaemonNotRunningError)) {
      why = `${why} (${(error as Error).message})`;
    }
  }
  const lock = hubLockState(paths.data);
  if (!lock.held) return { kind: "none", problem };
  if (!lock.holder) {
    return {
      kind: "unproven",
      message: `a hub holds ${lock.file} but it does not say which process it is yet (starting?); try again in a moment`,
    };
  }
  return { kind: "silent", holder: lock.holder, why };
}

/** True while `holder` runs: the same pid with the same start identity (never a reused pid). */
export function stillRunning(holder: LockHolder): boolean {
  return processStartIdentity(holder.pid) === holder.start;
}
