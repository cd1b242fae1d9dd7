import { SseParser } from "./sse";

describe("SseParser", () => {
  it("parses events split across chunks, with ids, comments and CRLF", () => {
    const parser = new SseParser();
    expect(parser.push(": ping\r\n\r\nevent: tok")).toEqual([]);
    expect(parser.push('en\r\nid: 7:2\r\ndata: {"content":"Hi"}\r')).toEqual([]);
    expect(parser.push("\n\r\n")).toEqual([{ event: "token", data: '{"content":"Hi"}', id: "7:2" }]);
  });

  it("joins multi-line data and defaults the event name", () => {
    const parser = new SseParser();
    expect(parser.push("data: a\ndata: b\n\n")).toEqual([{ event: "message", data: "a\nb", id: null }]);
  });

  it("returns several events from one chunk", () => {
    const parser = new SseParser();
    const events = parser.push("event: typing\ndata: {}\nid: 1:1\n\nevent: token\ndata: x\nid: 1:2\n\n");
    expect(events.map((e) => [e.event, e.id])).toEqual([
      ["typing", "1:1"],
      ["token", "1:2"],
    ]);
  });
});
