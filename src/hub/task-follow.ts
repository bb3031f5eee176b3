// Following an agent task with `tasks/get` (the one polling loop of a turn and of restart
// recovery): ask, hand the task to the caller, wait (growing pauses, async/poll.ts), ask again,
// until the caller says the task is over or the next poll could not finish by the deadline.
import type { A2AClient } from "../a2a/client.ts";
import type { A2ATask } from "../a2a/model.ts";
import { TransportError } from "../a2a/transport.ts";
import type { Clock } from "../async/clock.ts";
import { PollSchedule } from "../async/poll.ts";

interface TaskFollowOptions {
  client: Pick<A2AClient, "getTask">;
  taskId: string;
  /** First pause between polls; grows by half each time up to `maxIntervalMs`. */
  intervalMs: number;
  maxIntervalMs: number;
  /** Clock time by which following ends. */
  deadlineAt: number;
  /** One `tasks/get` call; past it the call fails with a ReadTimeout TransportError. */
  callTimeoutMs: number;
  /** Wait only when a poll could still finish (`callTimeoutMs`) before the deadline. */
  pollMustFinish: boolean;
  /** Ask at once (true) or wait first. */
  immediately: boolean;
  signal: AbortSignal;
  /** Gets every task fetched; returns true when following is over. Its errors end following. */
  onTask: (task: A2ATask) => boolean;
  clock?: Clock;
}

type TaskFollowResult =
  /** `onTask` said the task is over. */
  | { kind: "ended"; attempts: number }
  /** The next poll could not finish before the deadline. */
  | { kind: "timeout"; attempts: number }
  /** A `tasks/get` call failed (also when `signal` aborted it). */
  | { kind: "failed"; attempts: number; error: unknown };

/** Follows the task; rejects with `signal.reason` when aborted while waiting between polls. */
export async function followTask(options: TaskFollowOptions): Promise<TaskFollowResult> {
  const polls = new PollSchedule({
    intervalMs: options.intervalMs,
    maxIntervalMs: options.maxIntervalMs,
    deadlineAt: options.deadlineAt,
    ...(options.pollMustFinish ? { checkTimeoutMs: options.callTimeoutMs } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  let attempts = 0;
  let wait = !options.immediately;
  for (;;) {
    if (wait && !(await polls.wait(options.signal))) return { kind: "timeout", attempts };
    wait = true;
    attempts++;
    let task: A2ATask;
    try {
      task = await getTask(options);
    } catch (error) {
      return { kind: "failed", attempts, error };
    }
    if (options.onTask(task)) return { kind: "ended", attempts };
  }
}

/** One `tasks/get`, bounded by `callTimeoutMs` and the caller's signal. */
async function getTask(options: TaskFollowOptions): Promise<A2ATask> {
  const call = new AbortController();
  const timer = setTimeout(() => {
    call.abort(
      new TransportError(
        "ReadTimeout",
        `the agent did not answer tasks/get within ${options.callTimeoutMs} ms`,
      ),
    );
  }, options.callTimeoutMs);
  try {
    return await options.client.getTask(options.taskId, {
      signal: AbortSignal.any([options.signal, call.signal]),
    });
  } finally {
    clearTimeout(timer);
  }
}
