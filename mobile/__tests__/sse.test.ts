// The stream client's reading of Server-Sent Events (eventsource-parser, fed by consume): events
// split anywhere across chunks, CRLF, LF and CR line ends, keep-alive comments, multi-line data,
// the last event id kept for Last-Event-ID, and an event cut before its blank line not taken.
import { streamMessage, type StreamFetch } from "../src/chat/stream";
import { answer, streamResponse } from "./helpers";

function server(bodies: string[][]): { fetch: StreamFetch; lastEventIds: (string | undefined)[] } {
  const lastEventIds: (string | undefined)[] = [];
  return {
    lastEventIds,
    fetch: async (_url, init) => {
      lastEventIds.push((init.headers as Record<string, string>)["Last-Event-ID"]);
      const next = bodies.shift();
      if (!next) throw new Error("no more responses");
      return streamResponse(next);
    },
  };
}

const opts = (fetch: StreamFetch) => ({ baseUrl: "http://api.test", fetch, sleep: () => Promise.resolve() });
const token = (content: string) => JSON.stringify({ message_id: 5, conversation_id: 7, content });

test("events split anywhere, with CRLF, LF and CR line ends and keep-alive comments, are parsed whole", async () => {
  const text =
    ": ping - 2026-12-07\r\n\r\n" +
    `event: token\r\nid: 5:1\r\ndata: ${token("Hel")}\r\n\r\n` +
    `event: token\rid: 5:2\rdata: ${token("lo")}\r\r` +
    `: ping\n\nevent: response\nid: 5:3\ndata: ${JSON.stringify(answer(5, "Hello"))}\n\n`;
  for (let size = 1; size < 12; size++) {
    const chunks: string[] = [];
    for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
    const tokens: string[] = [];
    const final = await streamMessage({ message: "Hi" }, { onToken: (t) => tokens.push(t) }, opts(server([chunks]).fetch));
    expect([size, tokens, final.content]).toEqual([size, ["Hel", "lo"], "Hello"]);
  }
});

test("multi-line data is joined; the last id seen carries over events without one", async () => {
  const first = `id: 5:1\nevent: token\ndata: {"message_id": 5,\ndata: "content": "Hel"}\n\nevent: token\ndata: ${token("l")}\n\n`;
  const rest = `event: response\nid: 5:3\ndata: ${JSON.stringify(answer(5, "Hell"))}\n\n`;
  const fake = server([[first], [rest]]);
  const tokens: string[] = [];
  const final = await streamMessage({ message: "Hi" }, { onToken: (t) => tokens.push(t) }, opts(fake.fetch));
  expect(tokens).toEqual(["Hel", "l"]);
  expect(fake.lastEventIds).toEqual([undefined, "5:1"]);
  expect(final.content).toBe("Hell");
});

test("an event without its closing blank line is not taken: the answer is re-attached", async () => {
  const cut = `event: token\nid: 5:1\ndata: ${token("A")}\n\nevent: response\nid: 5:2\ndata: ${JSON.stringify(answer(5, "A"))}\n`;
  const fake = server([[cut], [`event: response\nid: 5:2\ndata: ${JSON.stringify(answer(5, "AB"))}\n\n`]]);
  const final = await streamMessage({ message: "Hi" }, {}, opts(fake.fetch));
  expect(fake.lastEventIds).toEqual([undefined, "5:1"]);
  expect(final.content).toBe("AB");
});
