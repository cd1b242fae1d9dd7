// The widget's reading of the answer's Server-Sent Events (eventsource-parser, fed by HelplineClient):
// events split anywhere across chunks, CRLF, LF and CR line ends, keep-alive comments, multi-line
// data, the last event id kept for re-attaching, and an event cut before its blank line not taken.
import { HelplineClient, type StreamHandlers } from "./api";

const BASE = "https://help.example";
const FINAL = { message_id: 11, conversation_id: 5, content: "Hello", status: "sent", error: null, sources: [] };
const token = (content: string) => JSON.stringify({ message_id: 11, conversation_id: 5, content });

/** A body that sends `chunks`, then ends, or breaks (a dropped connection) if `breakAtEnd`. */
function body(chunks: string[], breakAtEnd = false): Response {
  const encoder = new TextEncoder();
  let i = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(encoder.encode(chunks[i++]!));
      else if (breakAtEnd) controller.error(new TypeError("network"));
      else controller.close();
    },
  });
  return new Response(stream, { headers: { "Content-Type": "text/event-stream" } });
}

function split(text: string, size: number): string[] {
  const chunks: string[] = [];
  for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
  return chunks;
}

type Route = (headers: Headers) => Response;

/** Serves the guest sign-in and the given stream routes; returns the stream requests' headers. */
function serve(routes: Record<string, Route[]>): Headers[] {
  const seen: Headers[] = [];
  vi.stubGlobal("fetch", async (url: string, init: RequestInit = {}) => {
    const path = new URL(url).pathname;
    if (path === "/api/v1/auth/guest") {
      return new Response(JSON.stringify({ access_token: "g", refresh_token: "r", expires_in: 900, refresh_expires_in: 3600, user: {} }), { status: 201 });
    }
    const handler = routes[`${init.method ?? "GET"} ${path}`]?.shift();
    if (!handler) throw new TypeError(`no route for ${path}`);
    const headers = new Headers(init.headers);
    seen.push(headers);
    return handler(headers);
  });
  return seen;
}

function recorder(): StreamHandlers & { tokens: string[]; ids: number[] } {
  const tokens: string[] = [];
  const ids: number[] = [];
  return { tokens, ids, typing: () => undefined, token: (t) => tokens.push(t), replace: () => undefined, started: (id) => ids.push(id) };
}

beforeEach(() => localStorage.clear());
afterEach(() => vi.unstubAllGlobals());

describe("the widget's answer stream", () => {
  it("parses events split anywhere, with CRLF, LF and CR line ends and keep-alive comments", async () => {
    const text =
      ": ping\r\n\r\n" +
      `event: token\r\nid: 11:1\r\ndata: ${token("Hel")}\r\n\r\n` +
      `event: token\rid: 11:2\rdata: ${token("lo")}\r\r` +
      `: ping\n\nevent: response\nid: 11:3\ndata: ${JSON.stringify(FINAL)}\n\n`;
    for (let size = 1; size < 12; size++) {
      serve({ "POST /api/v1/chat/stream": [() => body(split(text, size))] });
      const on = recorder();
      const final = await new HelplineClient(BASE, "key", "en").send("Hi", on);
      expect([size, on.tokens, on.ids, final.content]).toEqual([size, ["Hel", "lo"], [11], "Hello"]);
    }
  });

  it("joins multi-line data, and re-attaches after a drop from the last event id seen", async () => {
    const first = `event: token\nid: 11:1\ndata: {"message_id": 11,\ndata: "content": "Hel"}\n\nevent: token\ndata: ${token("l")}\n\n`;
    const seen = serve({
      "POST /api/v1/chat/stream": [() => body([first], true)],
      "GET /api/v1/chat/stream/11": [() => body([`event: token\nid: 11:3\ndata: ${token("lo")}\n\nevent: response\nid: 11:4\ndata: ${JSON.stringify(FINAL)}\n\n`])],
    });
    const on = recorder();
    const final = await new HelplineClient(BASE, "key", "en").send("Hi", on);
    expect(on.tokens).toEqual(["Hel", "l", "lo"]);
    expect(seen[1]?.get("Last-Event-ID")).toBe("11:1");
    expect(final.content).toBe("Hello");
  });

  it("does not take an event cut before its closing blank line", async () => {
    const seen = serve({
      "POST /api/v1/chat/stream": [() => body([`event: token\nid: 11:1\ndata: ${token("Hel")}\n\nevent: response\nid: 11:2\ndata: ${JSON.stringify(FINAL)}\n`])],
      "GET /api/v1/chat/stream/11": [() => body([`event: response\nid: 11:2\ndata: ${JSON.stringify({ ...FINAL, content: "Hello again" })}\n\n`])],
    });
    const final = await new HelplineClient(BASE, "key", "en").send("Hi", recorder());
    expect(seen[1]?.get("Last-Event-ID")).toBe("11:1");
    expect(final.content).toBe("Hello again");
  });
});
