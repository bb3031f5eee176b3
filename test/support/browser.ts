// A real headless browser for tests: Debian's Chromium driven by playwright-core. CI installs it
// in .ci/run; where it is missing the browser tests skip and say why.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

export const CHROMIUM = process.env.HYBRO_TEST_CHROMIUM ?? "/usr/bin/chromium";

/** Why the browser tests cannot run here, or null when they can. */
export const browserUnavailable: string | null = existsSync(CHROMIUM)
  ? null
  : `no Chromium at ${CHROMIUM} (apt-get install chromium, as .ci/run does as root)`;

/**
 * Flags for this closed network: without the background-networking ones Chromium's own
 * connections (updates, sync, field trials) are refused and slow it down.
 */
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface TestBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A fresh browser with its own profile folder, removed on close. */
export async function launchBrowser(viewport = { width: 1400, height: 860 }): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), "hybro-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
