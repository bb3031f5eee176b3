// Which relay the hub talks to: `--gateway-url`, else HYBRO_GATEWAY_URL, else the URL saved with
// `config set gateway-url`, else hybro.ai. `start` applies the same order (its flag reads the
// variable too); `config path`, `status` and `doctor` show where the URL came from.
import { readConfigFile } from "../config/config-file.ts";
import { DEFAULT_GATEWAY_URL } from "../wire/gateway.ts";

interface GatewayUrlChoice {
  url: string;
  source: "--gateway-url" | "HYBRO_GATEWAY_URL" | "the config file" | "the default";
}

/** The URL a `start` with these inputs would use (trailing slashes dropped). */
export function chooseGatewayUrl(inputs: {
  flag?: string | undefined;
  env?: NodeJS.ProcessEnv;
  configFile: string;
}): GatewayUrlChoice {
  const env = inputs.env ?? process.env;
  const config = readConfigFile(inputs.configFile);
  const saved = config.ok ? config.config.gatewayUrl : undefined;
  const choice: GatewayUrlChoice = inputs.flag
    ? { url: inputs.flag, source: "--gateway-url" }
    : env.HYBRO_GATEWAY_URL
      ? { url: env.HYBRO_GATEWAY_URL, source: "HYBRO_GATEWAY_URL" }
      : saved
        ? { url: saved, source: "the config file" }
        : { url: DEFAULT_GATEWAY_URL, source: "the default" };
  return { ...choice, url: trimGatewayUrl(choice.url) };
}

/** Where the URL came from, for output: "saved with `config set gateway-url`", "the default", … */
export function gatewayUrlOrigin(source: GatewayUrlChoice["source"]): string {
  switch (source) {
    case "the config file":
      return "saved with `config set gateway-url`";
    case "the default":
      return "the default";
    default:
      return `from ${source}`;
  }
}

export function trimGatewayUrl(url: string): string {
  return url.trim().replace(/\/+$/, "");
}

/** A URL fit to save: http(s), no query or fragment; else what is wrong with it. */
export function checkGatewayUrl(
  text: string,
): { ok: true; url: string } | { ok: false; error: string } {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return { ok: false, error: `"${text}" is not a URL (e.g. https://api.hybro.ai)` };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return {
      ok: false,
      error: `"${text}" must start with https:// (or http:// for a local relay)`,
    };
  }
  if (url.search || url.hash || url.username || url.password) {
    return {
      ok: false,
      error: `"${text}" must be a plain base URL, without ?query, #fragment or user:password@`,
    };
  }
  return { ok: true, url: trimGatewayUrl(url.href) };
}
