// The value at a path of parsed JSON (a schema issue's path), or undefined when the path leaves
// the document: config errors quote what the user wrote there.
export function valueAt(root: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let node = root;
  for (const part of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<PropertyKey, unknown>)[part];
  }
  return node;
}
