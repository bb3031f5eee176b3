// Agent cards leave the relay with every agent URL replaced by the gateway's URL for that
// agent, so a caller never learns where the agent runs on the hub's machine. Pure.

function maskInterfaces(value: unknown, gatewayUrl: string): unknown {
  if (!Array.isArray(value)) return value;
  return value.map((entry) =>
    typeof entry === "object" && entry !== null && "url" in entry
      ? { ...(entry as Record<string, unknown>), url: gatewayUrl }
      : entry,
  );
}

export function maskAgentCard(
  card: Record<string, unknown>,
  gatewayUrl: string,
): Record<string, unknown> {
  const masked: Record<string, unknown> = { ...card };
  if ("url" in masked) masked.url = gatewayUrl;
  if ("supportedInterfaces" in masked) {
    masked.supportedInterfaces = maskInterfaces(masked.supportedInterfaces, gatewayUrl);
  }
  if ("additionalInterfaces" in masked) {
    masked.additionalInterfaces = maskInterfaces(masked.additionalInterfaces, gatewayUrl);
  }
  return masked;
}
