// The one network-error classifier, for agents and the relay alike.
import { describe, expect, it } from "vitest";
import { classifyNetworkFailure, errorCodeOf } from "../../src/a2a/network-errors.ts";
import { networkErrorName } from "../../src/relay/errors.ts";

const coded = (code: string) => Object.assign(new Error(code), { code });

describe("classifyNetworkFailure", () => {
  it("names nobody-there failures ConnectError (connection-class) in either phase", () => {
    for (const phase of ["connect", "read"] as const) {
      expect(classifyNetworkFailure(coded("ECONNREFUSED"), phase)).toMatchObject({
        errorType: "ConnectError",
        connectionClass: true,
        closedByPeer: false,
      });
    }
  });

  it("names a reset by when it happened: ConnectError before the answer, ReadError during it", () => {
    for (const code of ["ECONNRESET", "EPIPE", "UND_ERR_SOCKET"]) {
      expect(classifyNetworkFailure(coded(code), "connect")).toMatchObject({
        errorType: "ConnectError",
        connectionClass: true,
        closedByPeer: true,
      });
      expect(classifyNetworkFailure(coded(code), "read")).toMatchObject({
        errorType: "ReadError",
        connectionClass: false,
      });
    }
  });

  it("names undici's timeouts, finds codes in causes, and knows nothing else", () => {
    expect(classifyNetworkFailure(coded("UND_ERR_CONNECT_TIMEOUT"), "connect")?.errorType).toBe(
      "ConnectTimeout",
    );
    expect(classifyNetworkFailure(coded("UND_ERR_BODY_TIMEOUT"), "read")?.errorType).toBe(
      "ReadTimeout",
    );
    const wrapped = new Error("fetch failed", {
      cause: new AggregateError([coded("ECONNREFUSED")]),
    });
    expect(errorCodeOf(wrapped)).toBe("ECONNREFUSED");
    expect(classifyNetworkFailure(wrapped, "connect")?.errorType).toBe("ConnectError");
    expect(classifyNetworkFailure(new Error("?"), "read")).toBeNull();
  });

  it("is what the relay's error names use", () => {
    expect(networkErrorName(coded("ECONNRESET"), "connect")).toBe("ConnectError");
    expect(networkErrorName(coded("ECONNRESET"))).toBe("ReadError");
    expect(networkErrorName(coded("EWEIRD"))).toBe("EWEIRD");
  });
});
