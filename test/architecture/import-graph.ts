// The import graph of the project's TypeScript files, read with the compiler's own pre-processor
// (static imports, re-exports, `import "x"` and dynamic `import("x")` with a string literal;
// comments and strings are not mistaken for imports). Relative specifiers only: packages and
// `node:` modules are returned as written.
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The specifiers one file imports, relative ones resolved to repo-relative paths. */
export function importsOf(repoPath: string): string[] {
  const text = readFileSync(join(REPO_ROOT, repoPath), "utf8");
  const info = ts.preProcessFile(text, true, true);
  return info.importedFiles.map(({ fileName }) =>
    fileName.startsWith(".")
      ? relative(REPO_ROOT, resolve(REPO_ROOT, dirname(repoPath), fileName))
      : fileName,
  );
}
