// Waiting for a condition nothing announces (a process gone, say): check, sleep, check again.
import { setTimeout as sleep } from "node:timers/promises";

/** Resolves true once `done()` holds, or false when `timeoutMs` has passed without it. */
export async function pollUntil(
  done: () => boolean,
  timeoutMs: number,
  intervalMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
  return true;
}
