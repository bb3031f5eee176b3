import { describe, expect, it } from "vitest";
import {
  NdjsonLineReader,
  type OversizeLine,
  sniffRequestId,
} from "../../src/agents/transports/ndjson-lines.ts";

function reader(maxLineBytes = 64) {
  const lines: string[] = [];
  const oversize: OversizeLine[] = [];
  const r = new NdjsonLineReader(
    maxLineBytes,
    (l) => lines.push(l),
    (l) => oversize.push(l),
  );
  return { r, lines, oversize };
}

describe("NdjsonLineReader", () => {
  it("splits on \\n, drops a trailing \\r and blank lines, joins lines across chunks", () => {
    const { r, lines } = reader();
    r.push(Buffer.from('{"a":1}\r\n\n  \r\n{"b"'));
    r.push(Buffer.from(':2}\n{"c":3}'));
    expect(lines).toEqual(['{"a":1}', '{"b":2}']);
    r.end();
    expect(lines).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  it("keeps multi-byte characters split across chunks intact", () => {
    const { r, lines } = reader();
    const bytes = Buffer.from('"héllo ✓"\n');
    r.push(bytes.subarray(0, 3));
    r.push(bytes.subarray(3, 9));
    r.push(bytes.subarray(9));
    expect(lines).toEqual(['"héllo ✓"']);
  });

  it("discards an over-long line up to its newline, reports it once and resyncs", () => {
    const { r, lines, oversize } = reader(32);
    const long = `{"jsonrpc":"2.0","id":7,"result":"${"x".repeat(100)}"}`;
    r.push(Buffer.from(long.slice(0, 50)));
    r.push(Buffer.from(long.slice(50)));
    r.push(Buffer.from('\n{"ok":true}\n'));
    expect(oversize).toHaveLength(1);
    expect(oversize[0]?.bytes).toBe(Buffer.byteLength(long));
    expect(sniffRequestId(oversize[0] as OversizeLine)).toBe(7);
    expect(lines).toEqual(['{"ok":true}']);
  });
});

describe("sniffRequestId", () => {
  const line = (head: string, tail = "") => ({ bytes: 0, head, tail });
  it("finds the id first, second after jsonrpc, last, or a stream event's requestId", () => {
    expect(sniffRequestId(line('{"id":12,"result":"xx'))).toBe(12);
    expect(sniffRequestId(line('{ "jsonrpc" : "2.0", "id" : "abc", "result'))).toBe("abc");
    expect(sniffRequestId(line('{"jsonrpc":"2.0","result":{"x', 'xx"}},"id":5}'))).toBe(5);
    expect(
      sniffRequestId(
        line('{"jsonrpc":"2.0","method":"stream/event","params":{"requestId":9,"event":{'),
      ),
    ).toBe(9);
  });
  it("does not take a nested id for the message's", () => {
    expect(sniffRequestId(line('{"jsonrpc":"2.0","result":{"id":"task-1","x', 'x"}}'))).toBeNull();
    expect(sniffRequestId(line('{"result":"x', '{"task":{"id":"t"}}}'))).toBeNull();
  });
});
