import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** This package's CLI entry (src/cli/main.ts from a checkout, dist/cli/main.js when installed). */
export function cliEntryPath(): string {
  const here = fileURLToPath(import.meta.url);
  return join(dirname(here), `main${extname(here)}`);
}

/** A file shipped at the package's top (the checkout's, or the installed package's). */
export function packagePath(relative: string): string {
  return fileURLToPath(new URL(`../../${relative}`, import.meta.url));
}
