import { backoff, clientIdFor, newClientId, ApiRefusal, NetworkDown, resumeAnswer, streamMessage } from "./stream";

const enc = new TextEncoder();

function sse(events: { event: string; id: string; data: object }[]): string {
  return events.map((e) => `event: ${e.event}\nid: ${e.id}\ndata: ${JSON.stringify(e.data)}\n\n`).join("");
}

/** A body that sends `chunks`, then ends — or breaks (like a dropped connection) if `breakAfter`. */
function body(chunks: string[], breakAfter = false): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(enc.encode(chunks[i++]!));
      else if (breakAfter) controller.error(new TypeError("network error"));
      else controller.close();
    },
  });
}

const ids = { message_id: 7, conversation_id: 3 };
const typing = { event: "typing", id: "7:1", data: { ...ids, user_message_id: 6 } };
const token = (seq: number, content: string) => ({ event: "token", id: `7:${seq}`, data: { ...ids, content } });
const final = (seq: number, content: string) => ({
  event: "response",
  id: `7:${seq}`,
  data: { ...ids, user_message_id: 6, content, status: "sent", sources: [{ id: 1, question: "Q?", slug: "q", score: 1 }] },
});
const instant = () => Promise.resolve();

describe("streamMessage", () => {
  it("shows the answer token by token and returns the stored response", async () => {
    const text = sse([typing, token(2, "Hel"), token(3, "lo"), final(4, "Hello")]);
    // Split mid-event: the parser must join chunks.
    const fetch = vi.fn(async (_r: Request) => new Response(body([text.slice(0, 50), text.slice(50)]), { status: 200 }));
    const tokens: string[] = [];
    const accepted = vi.fn();
    const result = await streamMessage(
      { message: "hi", language: "fr" },
      { onToken: (t) => tokens.push(t), onAccepted: accepted },
      { fetch, sleep: instant },
    );
    expect(tokens).toEqual(["Hel", "lo"]);
    expect(accepted).toHaveBeenCalledWith({ message_id: 7, conversation_id: 3, user_message_id: 6 });
    expect(result.content).toBe("Hello");
    expect(result.sources?.[0]?.slug).toBe("q");
    const request = fetch.mock.calls[0]![0] as Request;
    expect(request.method).toBe("POST");
    expect(new URL(request.url).pathname).toBe("/api/v1/chat/stream");
    expect(await request.json()).toEqual({ message: "hi", language: "fr" });
  });

  it("re-attaches after a drop with the last event id, keeping the text already shown", async () => {
    const calls: Request[] = [];
    const responses = [
      () => new Response(body([sse([typing, token(2, "Hel")])], true)),
      () => Promise.reject(new TypeError("Failed to fetch")), // still offline
      () => new Response(body([sse([token(3, "lo"), final(4, "Hello")])])),
    ];
    const fetch = vi.fn(async (r: Request) => {
      calls.push(r);
      return responses[calls.length - 1]!();
    });
    const tokens: string[] = [];
    const waits: number[] = [];
    const reconnecting = vi.fn();
    const result = await streamMessage(
      { message: "hi" },
      { onToken: (t) => tokens.push(t), onReconnecting: reconnecting },
      { fetch, sleep: (ms) => (waits.push(ms), Promise.resolve()) },
    );
    expect(tokens.join("")).toBe("Hello");
    expect(result.content).toBe("Hello");
    expect(calls).toHaveLength(3);
    expect(new URL(calls[1]!.url).pathname).toBe("/api/v1/chat/stream/7");
    expect(calls[2]!.headers.get("Last-Event-ID")).toBe("7:2");
    expect(waits).toEqual([500, 1000]); // exponential backoff
    expect(reconnecting).toHaveBeenCalledTimes(2);
  });

  it("replaces the streamed text when the server rejects it, and returns the guarded answer", async () => {
    const article = "Here is what our help article “Q?” says:\n\nOpen Settings.";
    const replace = { event: "replace", id: "7:4", data: { ...ids, content: article, reason: "unsupported_fact" } };
    const guarded = {
      event: "response",
      id: "7:5",
      data: { ...final(5, article).data, guard: { action: "article", reason: "unsupported_fact", unsupported: [{ kind: "phone", text: "555-0199" }] } },
    };
    const fetch = vi.fn(async () => new Response(body([sse([typing, token(2, "Call "), token(3, "555-0199"), replace, guarded])])));
    // What a screen shows: tokens appended, a replacement taking the place of all of them.
    let shown = "";
    const seen: string[] = [];
    const result = await streamMessage(
      { message: "hi" },
      {
        onToken: (t) => seen.push((shown += t)),
        onReplace: (t) => seen.push((shown = t)),
      },
      { fetch, sleep: instant },
    );
    expect(seen).toEqual(["Call ", "Call 555-0199", article]);
    expect(result.content).toBe(article);
    expect(result.guard?.action).toBe("article");
  });

  it("replays a replacement after re-attaching past the tokens", async () => {
    const replace = { event: "replace", id: "7:4", data: { ...ids, content: "I don't know.", reason: "unsupported_fact" } };
    const responses = [
      () => new Response(body([sse([typing, token(2, "Call "), token(3, "555-0199")])], true)),
      () => new Response(body([sse([replace, final(5, "I don't know.")])])),
    ];
    let n = 0;
    const fetch = vi.fn(async () => responses[n++]!());
    let shown = "";
    const result = await streamMessage(
      { message: "hi" },
      { onToken: (t) => (shown += t), onReplace: (t) => (shown = t) },
      { fetch, sleep: instant },
    );
    expect(shown).toBe("I don't know.");
    expect(result.content).toBe("I don't know.");
    expect((fetch.mock.calls[1] as unknown as [Request])[0].headers.get("Last-Event-ID")).toBe("7:3");
  });

  it("refuses with the API's message on 429 and does not retry", async () => {
    const fetch = vi.fn(async () =>
      Response.json({ error: "rate_limited", detail: "Too many messages; try again in 20 seconds." }, { status: 429 }),
    );
    const error = await streamMessage({ message: "hi" }, {}, { fetch, sleep: instant }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiRefusal);
    expect((error as ApiRefusal).status).toBe(429);
    expect((error as ApiRefusal).message).toBe("Too many messages; try again in 20 seconds.");
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it("reports the network being down when the message could not be sent", async () => {
    const fetch = vi.fn(() => Promise.reject(new TypeError("Failed to fetch")));
    await expect(streamMessage({ message: "hi" }, {}, { fetch, sleep: instant })).rejects.toBeInstanceOf(NetworkDown);
  });

  it("gives up after the maximum attempts", async () => {
    let n = 0;
    const fetch = vi.fn(async () => (n++ === 0 ? new Response(body([sse([typing])], true)) : Promise.reject(new TypeError("offline"))));
    await expect(streamMessage({ message: "hi" }, {}, { fetch, sleep: instant, maxAttempts: 3 })).rejects.toBeInstanceOf(NetworkDown);
    expect(fetch).toHaveBeenCalledTimes(4);
  });

  it("stops when aborted", async () => {
    const ctrl = new AbortController();
    const fetch = vi.fn(async () => {
      ctrl.abort();
      return new Response(body([sse([typing])], true));
    });
    const error = await streamMessage({ message: "hi" }, {}, { fetch, sleep: instant, signal: ctrl.signal }).catch((e: unknown) => e);
    expect((error as DOMException).name).toBe("AbortError");
  });

  it("returns a failed answer with its error for the Retry button", async () => {
    const failed = { event: "error", id: "7:3", data: { ...ids, content: "Hel", status: "partial", error: "The assistant is unavailable" } };
    const fetch = vi.fn(async () => new Response(body([sse([typing, token(2, "Hel"), failed])])));
    const result = await streamMessage({ message: "hi" }, {}, { fetch, sleep: instant });
    expect(result.status).toBe("partial");
    expect(result.error).toBe("The assistant is unavailable");
  });
});

describe("resumeAnswer", () => {
  it("attaches at once to an answer in progress (a reload) and follows it to the end", async () => {
    const fetch = vi.fn(async (_r: Request) => new Response(body([sse([typing, token(2, "Hi"), final(3, "Hi")])])));
    const waits: number[] = [];
    const tokens: string[] = [];
    const result = await resumeAnswer(7, { onToken: (t) => tokens.push(t) }, { fetch, sleep: (ms) => (waits.push(ms), Promise.resolve()) });
    expect(result.content).toBe("Hi");
    expect(tokens).toEqual(["Hi"]);
    expect(waits).toEqual([]);
    const request = fetch.mock.calls[0]![0] as Request;
    expect(new URL(request.url).pathname).toBe("/api/v1/chat/stream/7");
    expect(request.headers.get("Last-Event-ID")).toBeNull();
  });

  it("fails with 404 for an unknown answer", async () => {
    const fetch = vi.fn(async () => Response.json({ error: "not_found", detail: "No such answer" }, { status: 404 }));
    await expect(resumeAnswer(9, {}, { fetch, sleep: instant })).rejects.toBeInstanceOf(ApiRefusal);
  });
});

it("backs off exponentially up to a cap", () => {
  expect([1, 2, 3, 4, 10].map((a) => backoff(a))).toEqual([500, 1000, 2000, 4000, 15000]);
});

describe("client_id", () => {
  it("is new for each message and kept for the same text sent again after a failed send", () => {
    const a = newClientId();
    expect(a).toMatch(/^[A-Za-z0-9._:-]{1,64}$/);
    expect(newClientId()).not.toBe(a);
    expect(clientIdFor(null, "hi")).not.toBe(a);
    expect(clientIdFor({ text: "hi", clientId: a }, "hi")).toBe(a);
    expect(clientIdFor({ text: "hi", clientId: a }, "hello")).not.toBe(a);
  });
});
