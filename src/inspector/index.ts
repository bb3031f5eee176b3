// The local inspector: `createInspector` makes the recorder (give it to the HubDaemon as its
// `observer` before the hub starts) and the per-run token; `attach` serves the web app for a
// hub and returns the URL to print once. See observer.ts for the hooks the hub calls.
import { replayLocally } from "../hub/replay.ts";
import type { Logger } from "../log/logger.ts";
import { type InspectAddress, newInspectorToken } from "./access.ts";
import type { TextRedactor } from "./payload.ts";
import { Recorder, type RecorderSettings } from "./recorder.ts";
import { policyRedactor } from "./redactor.ts";
import { InspectorServer, type InspectorServerSettings } from "./server.ts";
import { type InspectedHub, sourcesOf } from "./views.ts";

export type { HubObserver } from "../observe/observer.ts";
export {
  DEFAULT_INSPECT_ADDRESS,
  type InspectAddress,
  keptTurnsFromEnv,
  parseInspectAddress,
} from "./access.ts";
export { Recorder } from "./recorder.ts";

export interface InspectorOptions {
  address: InspectAddress;
  logger: Logger;
  recorder?: Partial<RecorderSettings>;
  server?: Partial<InspectorServerSettings>;
  /** When the port is taken, listen on a free one instead (`dev`'s default address). */
  fallbackToFreePort?: boolean;
  /** See RecorderOptions.redactorFor; default: the attached hub's privacy policy for the agent. */
  redactorFor?: (localAgentId: string) => TextRedactor | null;
}

export interface Inspector {
  /** The hub's observer: pass it as HubDaemon's `observer`. */
  readonly recorder: Recorder;
  /** This run's token: add it to the logger's masked secrets; never log or pass it on. */
  readonly token: string;
  /** Serves the inspector for this hub; resolves with the page's URL (holds the token). */
  attach(daemon: InspectedHub): Promise<string>;
  close(): Promise<void>;
}

export function createInspector(options: InspectorOptions): Inspector {
  const token = newInspectorToken();
  let attached: InspectedHub | null = null;
  // What the guard would redact or block is never kept here either (the policy a turn of the
  // agent starts with now).
  const byPolicy = (localAgentId: string): TextRedactor | null =>
    attached ? policyRedactor(attached.privacy.policyOf(localAgentId)) : null;
  const recorder = new Recorder({
    settings: options.recorder,
    redactorFor: options.redactorFor ?? byPolicy,
  });
  let server: InspectorServer | null = null;
  return {
    recorder,
    token,
    async attach(daemon) {
      attached = daemon;
      const serve = (address: InspectAddress) =>
        new InspectorServer({
          address,
          token,
          recorder,
          sources: sourcesOf(daemon),
          replay: (localAgentId, message, signal) =>
            replayLocally(daemon.registry, localAgentId, message, {
              signal,
              settings: { turnDeadlineMs: 120_000 },
              logger: options.logger.child({ part: "inspector", replay: localAgentId }),
            }),
          logger: options.logger.child({ part: "inspector" }),
          settings: options.server,
        });
      server = serve(options.address);
      let url: string;
      try {
        url = await server.listen();
      } catch (error) {
        const inUse = (error as NodeJS.ErrnoException).code === "EADDRINUSE";
        if (!inUse || !options.fallbackToFreePort) throw error;
        server = serve({ ...options.address, port: 0 });
        url = await server.listen();
      }
      // Attached to a hub already connected (tests): that opening counts as the first.
      if (daemon.link.state().connection === "open") recorder.link.connected();
      daemon.link.on("connected", () => recorder.link.connected());
      daemon.link.on("disconnected", (error) => recorder.link.disconnected(error?.message ?? null));
      return url;
    },
    async close() {
      await server?.close();
    },
  };
}
