// Reading an agent card over HTTP, for the HTTP and WebSocket transports alike: never more than
// a card can need (a 100 MB "card" is refused as too large, not read, and said to be too large),
// and a redirect named as one (not followed) rather than as a missing card.
import type { Dispatcher } from "undici";
import { TransportError } from "../../a2a/transport.ts";
import { isRedirect, redirectText } from "../../wire/redirect.ts";

/** The most of a card the hub reads; real cards are a few KB. */
const MAX_CARD_BYTES = 1024 * 1024;

/** Why a card request gave no card, in words for the user; null for a 2xx. */
export function cardAnswerProblem(response: Dispatcher.ResponseData): string | null {
  const status = response.statusCode;
  if (status >= 200 && status < 300) return null;
  const location = response.headers.location;
  if (isRedirect(status)) {
    return redirectText(status, Array.isArray(location) ? location[0] : location);
  }
  return `HTTP ${status}`;
}

/** The card's JSON text, or a `CardTooLarge` TransportError once it passes `maxBytes`. */
export async function readCardText(
  response: Dispatcher.ResponseData,
  url: string,
  maxBytes = MAX_CARD_BYTES,
): Promise<string> {
  const tooLarge = () =>
    new TransportError(
      "CardTooLarge",
      `the agent card at ${url} is larger than ${Math.round(maxBytes / 1024)} KiB, the most the hub reads (cards are a few KB; is this URL the card?)`,
    );
  const declared = Number(response.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) {
    response.body.destroy();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      response.body.destroy();
      throw tooLarge();
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}
