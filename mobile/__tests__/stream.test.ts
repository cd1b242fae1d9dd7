import { ApiRefusal, NetworkDown, resumeAnswer, streamMessage, type StreamFetch } from "../src/chat/stream";
import { answer, jsonResponse, recordCall, sse, streamResponse, type Call } from "./helpers";

const noSleep = () => Promise.resolve();

function fakeServer(responses: (Response | Error)[]): { fetch: StreamFetch; calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    fetch: async (url, init) => {
      calls.push(recordCall(url, init));
      const next = responses.shift();
      if (!next) throw new Error("no more responses");
      if (next instanceof Error) throw next;
      return next;
    },
  };
}

const opts = (fetch: StreamFetch) => ({
  baseUrl: "http://api.test",
  fetch,
  sleep: noSleep,
  authorization: () => "Bearer t0k",
});

test("a streamed answer: tokens, then the stored response", async () => {
  const body = sse([
    { event: "typing", id: "11:0", data: { message_id: 11, conversation_id: 7, user_message_id: 10 } },
    { event: "token", id: "11:1", data: { message_id: 11, conversation_id: 7, content: "Hello" } },
    { event: "token", id: "11:2", data: { message_id: 11, conversation_id: 7, content: " there" } },
    { event: "response", id: "11:3", data: answer(11, "Hello there") },
  ]);
  const server = fakeServer([streamResponse([body.slice(0, 50), body.slice(50, 51), body.slice(51)])]);
  const tokens: string[] = [];
  const accepted = jest.fn();
  const final = await streamMessage(
    { message: "Hi", conversation_id: null, client_id: "c-1" },
    { onToken: (t) => tokens.push(t), onAccepted: accepted },
    opts(server.fetch),
  );
  expect(tokens.join("")).toBe("Hello there");
  expect(final.content).toBe("Hello there");
  expect(accepted).toHaveBeenCalledWith({ message_id: 11, conversation_id: 7, user_message_id: 10 });
  expect(server.calls).toHaveLength(1);
  expect(server.calls[0]).toMatchObject({
    url: "http://api.test/api/v1/chat/stream",
    method: "POST",
    body: { message: "Hi", conversation_id: null, client_id: "c-1" },
  });
  expect(server.calls[0]!.headers.authorization).toBe("Bearer t0k");
});

test("a drop mid-answer resumes with Last-Event-ID and gets only the rest", async () => {
  const first = sse([
    { event: "typing", id: "11:0", data: { message_id: 11, conversation_id: 7 } },
    { event: "token", id: "11:1", data: { message_id: 11, conversation_id: 7, content: "Hel" } },
  ]);
  const rest = sse([
    { event: "token", id: "11:2", data: { message_id: 11, conversation_id: 7, content: "lo" } },
    { event: "response", id: "11:3", data: answer(11, "Hello") },
  ]);
  const server = fakeServer([
    streamResponse([first], { breakAtEnd: true }),
    new TypeError("offline"), // still offline at the first re-attach
    streamResponse([rest]),
  ]);
  const tokens: string[] = [];
  const reconnecting = jest.fn();
  const final = await streamMessage(
    { message: "Hi" },
    { onToken: (t) => tokens.push(t), onReconnecting: reconnecting },
    opts(server.fetch),
  );
  expect(tokens.join("")).toBe("Hello");
  expect(final.content).toBe("Hello");
  expect(reconnecting).toHaveBeenCalledTimes(2);
  const resumes = server.calls.slice(1);
  for (const call of resumes) {
    expect(call.url).toBe("http://api.test/api/v1/chat/stream/11");
    expect(call.method).toBe("GET");
    expect(call.headers["last-event-id"]).toBe("11:1");
  }
});

test("a silent connection (nothing for idleMs) is dropped and re-attached", async () => {
  const first = sse([{ event: "token", id: "11:1", data: { message_id: 11, conversation_id: 7, content: "A" } }]);
  const hanging = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode(first));
    },
    // never closes: the network went away without telling
  });
  const server = fakeServer([
    new Response(hanging, { status: 200 }),
    streamResponse([sse([{ event: "response", id: "11:2", data: answer(11, "AB") }])]),
  ]);
  const final = await streamMessage({ message: "x" }, {}, { ...opts(server.fetch), idleMs: 30 });
  expect(final.content).toBe("AB");
  expect(server.calls[1]!.headers["last-event-id"]).toBe("11:1");
});

test("the guard's replace event replaces the text; an error event keeps the stored partial", async () => {
  const server = fakeServer([
    streamResponse([
      sse([
        { event: "token", id: "3:1", data: { message_id: 3, conversation_id: 7, content: "wrong" } },
        { event: "replace", id: "3:2", data: { message_id: 3, conversation_id: 7, content: "right" } },
        { event: "error", id: "3:3", data: answer(3, "right", { status: "failed", error: null }) },
      ]),
    ]),
  ]);
  let text = "";
  const final = await streamMessage(
    { message: "x" },
    { onToken: (t) => (text += t), onReplace: (t) => (text = t) },
    opts(server.fetch),
  );
  expect(text).toBe("right");
  expect(final.error).toBe("The answer failed.");
});

test("a refusal before acceptance is an ApiRefusal; no network is NetworkDown", async () => {
  const refused = fakeServer([jsonResponse(429, { error: "rate_limited", detail: "Slow down" })]);
  await expect(streamMessage({ message: "x" }, {}, opts(refused.fetch))).rejects.toEqual(
    expect.objectContaining({ name: "ApiRefusal", status: 429, message: "Slow down" }),
  );
  const offline = fakeServer([new TypeError("Network request failed")]);
  await expect(streamMessage({ message: "x" }, {}, opts(offline.fetch))).rejects.toBeInstanceOf(NetworkDown);
});

test("stopping aborts the stream with an AbortError", async () => {
  const controller = new AbortController();
  const server = fakeServer([
    streamResponse([sse([{ event: "token", id: "4:1", data: { message_id: 4, conversation_id: 7, content: "a" } }])], {
      breakAtEnd: true,
    }),
  ]);
  const promise = streamMessage(
    { message: "x" },
    { onToken: () => controller.abort() },
    { ...opts(server.fetch), signal: controller.signal },
  );
  await expect(promise).rejects.toMatchObject({ name: "AbortError" });
});

test("resumeAnswer attaches at once and replays a finished answer", async () => {
  const server = fakeServer([streamResponse([sse([{ event: "response", id: "9:5", data: answer(9, "Done") }])])]);
  const reconnecting = jest.fn();
  const final = await resumeAnswer(9, { onReconnecting: reconnecting }, opts(server.fetch), "9:4");
  expect(final.content).toBe("Done");
  expect(reconnecting).not.toHaveBeenCalled();
  expect(server.calls[0]!.headers["last-event-id"]).toBe("9:4");
});

test("a 404 while re-attaching is a refusal, not an endless retry", async () => {
  const server = fakeServer([jsonResponse(404, { detail: "No such answer" })]);
  await expect(resumeAnswer(9, {}, opts(server.fetch))).rejects.toBeInstanceOf(ApiRefusal);
});

test("coming back to the foreground re-attaches a connection gone silent at once", async () => {
  const first = sse([{ event: "token", id: "11:1", data: { message_id: 11, conversation_id: 7, content: "A" } }]);
  const hanging = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode(first));
    },
  });
  const server = fakeServer([
    new Response(hanging, { status: 200 }),
    streamResponse([sse([{ event: "response", id: "11:2", data: answer(11, "AB") }])]),
  ]);
  const wakers = new Set<() => void>();
  const wake = (cb: () => void) => {
    wakers.add(cb);
    return () => void wakers.delete(cb);
  };
  const tokens: string[] = [];
  const promise = streamMessage(
    { message: "x" },
    {
      onToken: (t) => {
        tokens.push(t);
        // The app went to the background here, and came back a while later.
        setTimeout(() => wakers.forEach((w) => w()), 20);
      },
    },
    { ...opts(server.fetch), idleMs: 60_000, staleMs: 10, wake },
  );
  const final = await promise;
  expect(final.content).toBe("AB");
  expect(server.calls[1]!.headers["last-event-id"]).toBe("11:1");
  expect(wakers.size).toBe(0);
});
