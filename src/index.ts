// Public entry of the hybro-hub package: the wire types (and, as they land, the SDK).

export * from "./sdk/index.ts";
export * from "./wire/gateway.ts";
export * from "./wire/relay.ts";
