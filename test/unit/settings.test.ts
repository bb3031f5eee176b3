// The one settings merge (src/system/settings.ts): a key given as `undefined` means "the
// default", so a caller forwarding an unset option (`{ timeoutMs: flags.timeout }`) never erases
// a default. Checked on the merge itself and on settings objects built with it.
import { describe, expect, it } from "vitest";
import { DEFAULT_DEV_RELAY_SETTINGS, resolveSettings } from "../../src/devrelay/settings.ts";
import { DEFAULT_RECORDER_SETTINGS, Recorder } from "../../src/inspector/recorder.ts";
import { withDefaults } from "../../src/system/settings.ts";

interface Example {
  timeoutMs: number;
  name: string;
  enabled: boolean;
}
const DEFAULTS: Example = { timeoutMs: 1_000, name: "default", enabled: true };

describe("withDefaults", () => {
  it("overlays the given values on the defaults", () => {
    expect(withDefaults(DEFAULTS, { timeoutMs: 5, enabled: false })).toEqual({
      timeoutMs: 5,
      name: "default",
      enabled: false,
    });
  });

  it("keeps the default for a key given as undefined", () => {
    const merged = withDefaults(DEFAULTS, { timeoutMs: undefined, name: "given" });
    expect(merged).toEqual({ timeoutMs: 1_000, name: "given", enabled: true });
  });

  it("keeps falsy values that are not undefined (0, false, empty string)", () => {
    expect(withDefaults(DEFAULTS, { timeoutMs: 0, name: "", enabled: false })).toEqual({
      timeoutMs: 0,
      name: "",
      enabled: false,
    });
  });

  it("returns a fresh object and leaves the defaults alone", () => {
    const merged = withDefaults(DEFAULTS);
    expect(merged).toEqual(DEFAULTS);
    expect(merged).not.toBe(DEFAULTS);
    merged.timeoutMs = 7;
    expect(DEFAULTS.timeoutMs).toBe(1_000);
  });
});

describe("settings objects built with it", () => {
  it("the development relay keeps a default given as undefined", () => {
    const settings = resolveSettings({ port: undefined, hubHeartbeatIntervalMs: 5 });
    expect(settings.port).toBe(DEFAULT_DEV_RELAY_SETTINGS.port);
    expect(settings.hubHeartbeatIntervalMs).toBe(5);
  });

  it("the inspector's recorder keeps a default given as undefined", () => {
    const recorder = new Recorder({ settings: { maxTurns: undefined, maxBytes: undefined } });
    expect(recorder.settings.maxTurns).toBe(DEFAULT_RECORDER_SETTINGS.maxTurns);
    expect(recorder.settings.maxBytes).toBe(DEFAULT_RECORDER_SETTINGS.maxBytes);
  });
});
