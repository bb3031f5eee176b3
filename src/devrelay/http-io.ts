// Reading requests and writing JSON answers on node:http, with the relay's limits and error
// shape. No routing or domain logic here.
import type { IncomingMessage, ServerResponse } from "node:http";
import { clip, RelayHttpError } from "./errors.ts";

const MAX_PATH_CHARS = 2048;
/** Deeper JSON is refused: re-serialising it later (JSON.stringify recurses) would overflow the stack. */
const MAX_JSON_DEPTH = 100;

/** Deepest `[`/`{` nesting of a JSON text (strings skipped); stops counting past `limit`. */
export function jsonDepth(text: string, limit = MAX_JSON_DEPTH): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === 0x5c)
        i++; // backslash: skip the escaped character
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) {
      inString = true;
    } else if (code === 0x5b || code === 0x7b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (code === 0x5d || code === 0x7d) {
      depth--;
    }
  }
  return deepest;
}

function tooLarge(maxBytes: number): RelayHttpError {
  return new RelayHttpError(
    413,
    "payload_too_large",
    `Request body is larger than ${maxBytes} bytes`,
    { max_bytes: maxBytes },
  );
}

/** The whole request body, refusing more than `maxBytes` (413) before reading it all. */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.reject(tooLarge(maxBytes));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (error?: RelayHttpError) => {
      if (done) return;
      done = true;
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      if (error) reject(error);
      else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) finish(tooLarge(maxBytes));
      else chunks.push(chunk);
    };
    const onEnd = () => finish();
    const onError = () =>
      finish(new RelayHttpError(400, "invalid_request", "The request body could not be read"));
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
  });
}

/** The body as parsed JSON: 400 `invalid_json` when it is not JSON, 422 when it is empty. */
export async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const body = await readBody(req, maxBytes);
  const text = body.toString("utf8");
  if (text.trim() === "") {
    throw new RelayHttpError(422, "validation_error", "body: expected a JSON object, got nothing", {
      field: "body",
    });
  }
  if (jsonDepth(text) > MAX_JSON_DEPTH) {
    throw new RelayHttpError(
      422,
      "validation_error",
      `body: JSON nested deeper than ${MAX_JSON_DEPTH} levels`,
      { field: "body" },
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new RelayHttpError(
      400,
      "invalid_json",
      `Request body is not valid JSON: ${clip((error as Error).message, 120)}`,
    );
  }
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export function writeReply(
  res: ServerResponse,
  reply: Reply,
  headers: Record<string, string>,
): void {
  if (res.headersSent || res.writableEnded) return;
  const all = { ...headers, ...reply.headers };
  if (reply.body === undefined) {
    res.writeHead(reply.status, all);
    res.end();
    return;
  }
  const payload = JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    ...all,
    "Content-Type": "application/json",
    "Content-Length": String(Buffer.byteLength(payload)),
  });
  res.end(payload);
}

export function writeError(
  res: ServerResponse,
  error: RelayHttpError,
  headers: Record<string, string>,
): void {
  writeReply(res, { status: error.status, body: error.body(), headers: error.headers }, headers);
}

/**
 * The request path as decoded segments. Query and fragment are ignored; an over-long path,
 * bad percent-encoding, or a segment that is `.`/`..` or hides a slash is a 400.
 */
export function pathSegments(rawUrl: string | undefined): string[] {
  const url = rawUrl ?? "/";
  const end = url.search(/[?#]/);
  const path = end === -1 ? url : url.slice(0, end);
  if (path.length > MAX_PATH_CHARS) {
    throw new RelayHttpError(
      414,
      "uri_too_long",
      `Path is longer than ${MAX_PATH_CHARS} characters`,
    );
  }
  if (!path.startsWith("/"))
    throw new RelayHttpError(400, "invalid_path", "Path must start with /");
  const raw = path.slice(1).split("/");
  if (raw.length > 1 && raw[raw.length - 1] === "") raw.pop(); // one trailing slash is fine
  return raw.map((segment) => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      throw new RelayHttpError(
        400,
        "invalid_path",
        `Bad percent-encoding in path segment "${clip(segment)}"`,
      );
    }
    if (decoded === "." || decoded === ".." || hidesPathOrControl(decoded)) {
      throw new RelayHttpError(
        400,
        "invalid_path",
        `Path segment "${clip(segment)}" is not allowed`,
      );
    }
    return decoded;
  });
}

/** True when a decoded segment holds a slash, a backslash or a control character. */
function hidesPathOrControl(segment: string): boolean {
  for (let i = 0; i < segment.length; i++) {
    const code = segment.charCodeAt(i);
    if (code < 0x20 || code === 0x7f || code === 0x2f || code === 0x5c) return true;
  }
  return false;
}

/** The API key from `X-API-Key`, else from `Authorization: Bearer …`. */
export function presentedKey(req: IncomingMessage): string | undefined {
  const header = req.headers["x-api-key"];
  const direct = Array.isArray(header) ? header[0] : header;
  if (direct !== undefined && direct.trim() !== "") return direct.trim();
  const authorization = req.headers.authorization;
  if (authorization) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match) return match[1];
  }
  return undefined;
}
