// What a failed relay call means for the loop that made it: one table for register, sync,
// heartbeat, the event stream and publishing (each used to decide on its own). Pure, but for
// `reportFailure`, which tells the link through the hooks it is given.
//
//   kind            register  sync               heartbeat       events                publish
//   auth            stop      stop               stop            stop                  stop
//   not_registered  retry     re-register, retry re-register     re-register, retry    re-register, retry
//   hub_refused     retry     drop (*)           retry           re-register, slow (†) retry
//   permanent       retry     drop               retry           retry                 drop
//   transient, 429  retry     retry              retry           retry                 retry
//
// Every retry waits on the loop's Backoff with the relay's Retry-After as a floor.
// (*) a refused hub is synced again after the stream is accepted (`connection_ready`).
// (†) stream-health.ts slows the reconnects of a hub the relay refuses.
import { RelayAuthError, RelayError } from "./errors.ts";

/** The loops that call the relay. */
type RelayLoop = "register" | "sync" | "heartbeat" | "events" | "publish";

interface FailurePlan {
  /** The key was refused: the link stops (queued events stay queued). */
  stop: boolean;
  /** The relay forgot the hub (or refuses it on the stream): register again first. */
  reregister: boolean;
  /** Try the same call again after the backoff; false: drop it (logged by the loop). */
  retry: boolean;
}

export function failurePlan(loop: RelayLoop, failure: RelayError): FailurePlan {
  if (failure instanceof RelayAuthError || failure.kind === "auth") {
    return { stop: true, reregister: false, retry: false };
  }
  const reregister =
    failure.kind === "not_registered" || (loop === "events" && failure.kind === "hub_refused");
  const dropped =
    (loop === "sync" && (failure.kind === "permanent" || failure.kind === "hub_refused")) ||
    (loop === "publish" && failure.kind === "permanent");
  return { stop: false, reregister: loop !== "register" && reregister, retry: !dropped };
}

/** Any error of a relay call as a RelayError (an unexpected one counts as transient). */
function asRelayError(error: unknown, call: "register" | "sync" | "heartbeat"): RelayError {
  if (error instanceof RelayError) return error;
  return new RelayError(
    "transient",
    call,
    `${call} failed: ${error instanceof Error ? error.message : String(error)}`,
    { cause: error },
  );
}

/** How a loop tells the link about a failed call. */
export interface FailureReport {
  /** A call failed and the loop goes on (retries, or waits for the stream): the last error. */
  onFailure: (error: RelayError) => void;
  /** 401/403: the loop stops and the link is told. */
  onAuthError: (error: RelayAuthError) => void;
}

/**
 * The first steps of a loop's catch: the error as a RelayError and its plan; a refused key is
 * reported (the caller then stops), any other failure noted as the last error.
 */
export function reportFailure(
  call: "register" | "sync" | "heartbeat",
  error: unknown,
  report: FailureReport,
): { failure: RelayError; plan: FailurePlan } {
  const failure = asRelayError(error, call);
  const plan = failurePlan(call, failure);
  if (plan.stop) report.onAuthError(failure as RelayAuthError);
  else report.onFailure(failure);
  return { failure, plan };
}
