// No dead exports (issue 11): every name a file of src/ exports is imported by another file of
// the project (src, test, bench, examples, .ci), or is the package's public API (what
// src/index.ts re-exports with `export *`). A name only its own file uses is declared without
// `export`; one nothing uses is deleted. Read from the syntax alone (the compiler's parser, no
// type check), so it runs in the unit set: named imports and re-exports count for their name,
// a namespace import, `export *` and a dynamic `import()` count for the whole file.
import { globSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./import-graph.ts";

/** Exports nothing imports yet, in folders another change is reshaping; empty it there. */
const KNOWN_DEAD: readonly string[] = [];

const PUBLIC_ENTRY = "src/index.ts";
const WHOLE_FILE = "*";

const parse = (repoPath: string) =>
  ts.createSourceFile(
    repoPath,
    readFileSync(join(REPO_ROOT, repoPath), "utf8"),
    ts.ScriptTarget.Latest,
    true,
  );

const target = (from: string, specifier: string): string | null =>
  specifier.startsWith(".")
    ? relative(REPO_ROOT, resolve(REPO_ROOT, dirname(from), specifier))
    : null;

const isExported = (node: ts.Node): boolean =>
  ts.canHaveModifiers(node) &&
  (ts.getModifiers(node)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword) ?? false);

/** The names `file` exports (`default` for a default export). */
function exportsOf(file: ts.SourceFile): string[] {
  const names: string[] = [];
  for (const statement of file.statements) {
    if (ts.isExportDeclaration(statement)) {
      const clause = statement.exportClause;
      if (clause && ts.isNamedExports(clause))
        names.push(...clause.elements.map((e) => e.name.text));
    } else if (ts.isExportAssignment(statement)) {
      names.push("default");
    } else if (isExported(statement)) {
      if (ts.isVariableStatement(statement)) {
        for (const d of statement.declarationList.declarations) {
          if (ts.isIdentifier(d.name)) names.push(d.name.text);
        }
      } else if (
        (ts.isFunctionDeclaration(statement) ||
          ts.isClassDeclaration(statement) ||
          ts.isInterfaceDeclaration(statement) ||
          ts.isTypeAliasDeclaration(statement) ||
          ts.isEnumDeclaration(statement)) &&
        statement.name
      ) {
        const isDefault = ts
          .getModifiers(statement)
          ?.some((m) => m.kind === ts.SyntaxKind.DefaultKeyword);
        names.push(isDefault ? "default" : statement.name.text);
      }
    }
  }
  return names;
}

/** What `file` takes from other files: `[file, name]`, the name `*` for all of it. */
function importsOf(repoPath: string, file: ts.SourceFile): Array<[string, string]> {
  const used: Array<[string, string]> = [];
  const visit = (node: ts.Node) => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      const to = target(repoPath, node.moduleSpecifier.text);
      if (to && ts.isImportDeclaration(node)) {
        const clause = node.importClause;
        if (clause?.name) used.push([to, "default"]);
        const bindings = clause?.namedBindings;
        if (bindings && ts.isNamespaceImport(bindings)) used.push([to, WHOLE_FILE]);
        if (bindings && ts.isNamedImports(bindings)) {
          for (const e of bindings.elements) used.push([to, (e.propertyName ?? e.name).text]);
        }
      } else if (to && ts.isExportDeclaration(node)) {
        const clause = node.exportClause;
        if (clause && ts.isNamedExports(clause)) {
          for (const e of clause.elements) used.push([to, (e.propertyName ?? e.name).text]);
        } else {
          used.push([to, WHOLE_FILE]);
        }
      }
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      const to = target(repoPath, node.arguments[0].text);
      if (to) used.push([to, WHOLE_FILE]);
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      const to = target(repoPath, node.argument.literal.text);
      const first =
        node.qualifier && (ts.isIdentifier(node.qualifier) ? node.qualifier : node.qualifier.left);
      if (to) used.push([to, first && ts.isIdentifier(first) ? first.text : WHOLE_FILE]);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return used;
}

function deadExports(): string[] {
  const files = globSync(["{src,test,bench,examples,.ci}/**/*.{ts,mts,mjs,js}", "*.ts"], {
    cwd: REPO_ROOT,
    exclude: (path) => path.includes("node_modules"),
  });
  const parsed = new Map(files.map((path) => [path, parse(path)]));
  const used = new Map<string, Set<string>>();
  for (const [path, file] of parsed) {
    for (const [to, name] of importsOf(path, file)) {
      if (to === path) continue;
      if (!used.has(to)) used.set(to, new Set());
      used.get(to)?.add(name);
    }
  }
  // src/index.ts is the package: what it re-exports is used by the package's users.
  used.get(PUBLIC_ENTRY)?.add(WHOLE_FILE) ?? used.set(PUBLIC_ENTRY, new Set([WHOLE_FILE]));
  const dead: string[] = [];
  for (const [path, file] of parsed) {
    if (!path.startsWith("src/") || !/\.ts$/.test(path)) continue;
    const names = used.get(path);
    if (names?.has(WHOLE_FILE)) continue;
    for (const name of exportsOf(file)) {
      if (!names?.has(name)) dead.push(`${path} ${name}`);
    }
  }
  return dead.sort();
}

describe("exports", () => {
  const dead = deadExports();

  it("are each imported by another file, or are the package's API", () => {
    expect(dead.filter((entry) => !KNOWN_DEAD.includes(entry))).toEqual([]);
  });

  it("listed as known dead are still dead (delete the entry when one is gone)", () => {
    expect(KNOWN_DEAD.filter((entry) => !dead.includes(entry))).toEqual([]);
  });
});
