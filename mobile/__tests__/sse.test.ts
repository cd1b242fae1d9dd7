import { SseParser, type SseEvent } from "../src/chat/sse";

function parse(chunks: string[]): SseEvent[] {
  const out: SseEvent[] = [];
  const parser = new SseParser((e) => out.push(e));
  for (const c of chunks) parser.feed(c);
  return out;
}

test("events split anywhere, with CRLF, LF and CR line ends, are parsed whole", () => {
  const text = 'event: token\r\nid: 5:1\r\ndata: {"content":"Hel"}\r\n\r\nevent: token\nid: 5:2\ndata: {"content":"lo"}\n\nevent: response\rid: 5:3\rdata: {}\r\r';
  const whole = parse([text]);
  for (let size = 1; size < 12; size++) {
    const chunks: string[] = [];
    for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
    expect(parse(chunks)).toEqual(whole);
  }
  expect(whole).toEqual([
    { event: "token", id: "5:1", data: '{"content":"Hel"}' },
    { event: "token", id: "5:2", data: '{"content":"lo"}' },
    { event: "response", id: "5:3", data: "{}" },
  ]);
});

test("comments (keep-alive pings) are skipped; multi-line data is joined; the id carries over", () => {
  const events = parse([": ping - 2026-12-07\r\n\r\nid: 1:0\ndata: a\ndata: b\n\ndata:c\n\n"]);
  expect(events).toEqual([
    { event: "message", id: "1:0", data: "a\nb" },
    { event: "message", id: "1:0", data: "c" },
  ]);
});

test("an event without its closing blank line is not dispatched", () => {
  expect(parse(["event: token\ndata: {}\n"])).toEqual([]);
});
