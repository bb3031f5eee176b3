// node:http's createServer, taken through the CommonJS side of the built-in module. An ESM
// `import … from "node:http"` reads every export, and reading the lazy ones (WebSocket,
// MessageEvent, …) loads Node's own bundled undici: about 14 MB more resident memory for a
// process that only wants a small loopback server (bench/footprint.ts; issue 12).
export const { createServer } = process.getBuiltinModule("node:http");
