// Preloaded (`node --import`) into a hub under test: every module it loads (import or require),
// written one URL a line to the file named by HYBRO_TEST_LOADED_MODULES when it exits, then
// the built-in modules Node loaded for it.
import { writeFileSync } from "node:fs";
import { registerHooks } from "node:module";

const file = process.env.HYBRO_TEST_LOADED_MODULES;
if (file) {
  const loaded = new Set();
  registerHooks({
    load(url, context, nextLoad) {
      loaded.add(url);
      return nextLoad(url, context);
    },
  });
  // Node's own built-in modules loaded on the way (e.g. its bundled undici), as `builtin:<id>`.
  const builtins = () =>
    process.moduleLoadList
      .filter((entry) => entry.startsWith("NativeModule "))
      .map((entry) => `builtin:${entry.slice("NativeModule ".length)}`);
  process.on("exit", () => writeFileSync(file, [...loaded, ...builtins()].join("\n")));
}
