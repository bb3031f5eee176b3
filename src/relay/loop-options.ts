// What each loop of the relay link (register+sync, heartbeats) is given by the link: the relay,
// the hub, time, and where a failed call is reported.
import type { Random } from "../async/backoff.ts";
import type { Clock } from "../async/clock.ts";
import type { Logger } from "../log/logger.ts";
import type { RelayClient } from "./client.ts";
import type { FailureReport } from "./failure-policy.ts";
import type { RelayLinkSettings } from "./settings.ts";

export interface RelayLoopOptions extends FailureReport {
  client: RelayClient;
  hubId: string;
  settings: RelayLinkSettings;
  logger: Logger;
  clock: Clock;
  random: Random;
}
