import { Outbox, withClientIdFallback, type Sender } from "../src/chat/outbox";
import { ApiRefusal, NetworkDown, type SendBody } from "../src/chat/stream";
import { answer, MemoryStore } from "./helpers";

/** A server that stores each message once per client_id (the idempotency key): a repeated send
 * gets the first send's answer. `script` says what happens to each attempt, in order. */
class FakeServer {
  stored: { id: number; conversation_id: number; text: string; client_id?: string | null }[] = [];
  attempts: SendBody[] = [];
  script: ("ok" | "offline" | "drop-after-store" | "refuse" | "busy")[] = [];
  private nextId = 100;
  private conversations = 0;

  send: Sender = async (body, handlers) => {
    this.attempts.push(body);
    const step = this.script.shift() ?? "ok";
    if (step === "offline") throw new NetworkDown("Cannot reach the server");
    if (step === "refuse") throw new ApiRefusal(422, { detail: "message: too long" });
    if (step === "busy") throw new ApiRefusal(503, { detail: "busy" });
    let msg = this.stored.find((m) => body.client_id && m.client_id === body.client_id);
    if (!msg) {
      const conversation_id = body.conversation_id ?? ++this.conversations;
      msg = { id: this.nextId, conversation_id, text: body.message, client_id: body.client_id };
      this.nextId += 2;
      this.stored.push(msg);
    }
    if (step === "drop-after-store") throw new NetworkDown("The connection dropped");
    handlers.onAccepted?.({ message_id: msg.id + 1, conversation_id: msg.conversation_id, user_message_id: msg.id });
    handlers.onToken?.(`Re: ${msg.text}`);
    return { ...answer(msg.id + 1, `Re: ${msg.text}`), conversation_id: msg.conversation_id };
  };
}

function outbox(server: FakeServer, store = new MemoryStore(), user: number | null = 1) {
  const box = new Outbox({ store, send: server.send, sleep: () => Promise.resolve(), retryDelayMs: () => 0 });
  box.setUser(user);
  return box;
}

test("written offline: kept, nothing sent; back online: sent in order, each once", async () => {
  const server = new FakeServer();
  const box = outbox(server);
  box.setOnline(false);
  await box.enqueue("first", { conversation_id: 5 });
  await box.enqueue("second", { conversation_id: 5 });
  await box.flush();
  expect(server.attempts).toHaveLength(0);
  expect(box.state().items.map((i) => i.text)).toEqual(["first", "second"]);

  box.setOnline(true);
  await box.flush();
  expect(server.stored.map((m) => m.text)).toEqual(["first", "second"]);
  expect(box.state().items).toEqual([]);
  expect(box.state().live?.final?.content).toBe("Re: second");
  const ids = server.attempts.map((a) => a.client_id);
  expect(new Set(ids).size).toBe(2);
  for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

test("a drop after the server stored it: sent again with the same client_id, stored once", async () => {
  const server = new FakeServer();
  server.script = ["offline", "drop-after-store", "busy", "ok"];
  const box = outbox(server);
  await box.enqueue("only once", { conversation_id: 3 });
  await box.flush();
  expect(server.attempts).toHaveLength(4);
  expect(new Set(server.attempts.map((a) => a.client_id)).size).toBe(1);
  expect(server.stored).toHaveLength(1);
  expect(box.state().items).toEqual([]);
  expect(box.state().live?.text).toBe("Re: only once");
});

test("the outbox survives a restart: what was queued or being sent goes, with its client_id", async () => {
  const store = new MemoryStore();
  const server = new FakeServer();
  const before = outbox(server, store);
  before.setOnline(false);
  const a = await before.enqueue("written before the app closed", { conversation_id: 8 });
  // The app was killed while a second one was being sent.
  const saved = JSON.parse(store.data.get("helpline.outbox")!);
  saved.items.push({ ...saved.items[0], client_id: "11111111-1111-4111-8111-111111111111", text: "in flight", state: "sending" });
  store.data.set("helpline.outbox", JSON.stringify(saved));

  const after = outbox(server, store, null); // the app starts; who is signed in is not known yet
  await after.load();
  expect(server.attempts).toHaveLength(0);
  after.setUser(1);
  // What was being sent when the app stopped goes again (with its client_id), after the first.
  expect(after.state().items.map((i) => [i.text, i.state])).toEqual([
    ["written before the app closed", "queued"],
    ["in flight", "queued"],
  ]);
  await after.flush();
  expect(server.attempts.map((x) => [x.message, x.client_id])).toEqual([
    ["written before the app closed", a.client_id],
    ["in flight", "11111111-1111-4111-8111-111111111111"],
  ]);
  expect(JSON.parse(store.data.get("helpline.outbox")!).items).toEqual([]);
});

test("a refusal for good is kept as failed, not retried on its own; retry and discard", async () => {
  const server = new FakeServer();
  server.script = ["refuse"];
  const box = outbox(server);
  const item = await box.enqueue("too long", { conversation_id: 1 });
  await box.enqueue("next one", { conversation_id: 1 });
  await box.flush();
  // The refused one stays (failed) and does not block the next.
  expect(box.state().items).toEqual([expect.objectContaining({ client_id: item.client_id, state: "failed", error: "message: too long" })]);
  expect(server.stored.map((m) => m.text)).toEqual(["next one"]);

  await box.retry(item.client_id);
  await box.flush();
  expect(server.stored.map((m) => m.text)).toEqual(["next one", "too long"]);
  expect(server.attempts.filter((a) => a.client_id === item.client_id)).toHaveLength(2);

  server.script = ["refuse"];
  const other = await box.enqueue("bad", { conversation_id: 1 });
  await box.flush();
  await box.discard(other.client_id);
  expect(box.state().items).toEqual([]);
});

test("messages written offline in a new conversation all go to the conversation the first one made", async () => {
  const server = new FakeServer();
  const box = outbox(server);
  box.setOnline(false);
  const first = await box.enqueue("new topic", { conversation_id: null, thread: "t-1" });
  await box.enqueue("and more", { conversation_id: null, thread: "t-1" });
  await box.enqueue("elsewhere", { conversation_id: null, thread: "t-2" });
  box.setOnline(true);
  await box.flush();
  const [a, b, c] = server.stored;
  expect(a!.conversation_id).toBe(b!.conversation_id);
  expect(c!.conversation_id).not.toBe(a!.conversation_id);
  expect(box.conversationOf(first.thread)).toBe(a!.conversation_id);
  expect(server.attempts[1]!.conversation_id).toBe(a!.conversation_id);
});

test("a server that does not know client_id (422 on it) gets the message without it", async () => {
  const bodies: SendBody[] = [];
  const old: Sender = async (body, handlers) => {
    bodies.push(body);
    if ("client_id" in body) {
      throw new ApiRefusal(422, { errors: [{ field: "client_id", message: "Extra inputs are not permitted" }] } as never);
    }
    handlers.onAccepted?.({ message_id: 2, conversation_id: 1 });
    return answer(2, "ok");
  };
  const send = withClientIdFallback(old);
  const box = new Outbox({ store: new MemoryStore(), send, sleep: () => Promise.resolve() });
  box.setUser(1);
  await box.enqueue("one", { conversation_id: 1 });
  await box.enqueue("two", { conversation_id: 1 });
  await box.flush();
  expect(bodies.map((b) => "client_id" in b)).toEqual([true, false, false]);
  expect(send.supported()).toBe(false);
  expect(box.state().items).toEqual([]);
});

test("stop: the answer ends as stopped; a message stopped before acceptance stays to resend", async () => {
  let release: () => void = () => undefined;
  const send: Sender = (body, handlers, signal) =>
    new Promise((resolve, reject) => {
      handlers.onAccepted?.({ message_id: 9, conversation_id: 1 });
      handlers.onToken?.("partial");
      signal.addEventListener("abort", () => reject(Object.assign(new Error("Stopped"), { name: "AbortError" })));
      release = () => resolve(answer(9, "whole"));
    });
  const box = new Outbox({ store: new MemoryStore(), send });
  box.setUser(1);
  await box.enqueue("go", { conversation_id: 1 });
  const running = box.flush();
  await new Promise((r) => setTimeout(r, 0));
  expect(box.stop()?.message_id).toBe(9);
  await running;
  release();
  expect(box.state().live).toMatchObject({ stopped: true, text: "partial" });
  expect(box.state().items).toEqual([]);
});

test("only the signed-in user's messages are sent and shown; signed out, none", async () => {
  const server = new FakeServer();
  const store = new MemoryStore();
  const box = outbox(server, store, 1);
  box.setOnline(false);
  await box.enqueue("from Ada", { conversation_id: 1 });
  box.setUser(null); // Ada signs out, offline
  expect(box.state().items).toEqual([]);
  box.setOnline(true);
  await box.flush();
  expect(server.attempts).toHaveLength(0);
  box.setUser(2); // Bob signs in on the same phone
  await box.enqueue("from Bob", { conversation_id: 2 });
  await box.flush();
  expect(server.stored.map((m) => m.text)).toEqual(["from Bob"]);
  expect(box.state().items).toEqual([]);
  box.setUser(1); // Ada again: hers goes now
  await box.flush();
  expect(server.stored.map((m) => m.text)).toEqual(["from Bob", "from Ada"]);
});

test("a session that ended (401) keeps the message queued until the user signs in again", async () => {
  const attempts: SendBody[] = [];
  let expired = true;
  const send: Sender = async (body, handlers) => {
    attempts.push(body);
    if (expired) throw new ApiRefusal(401, { detail: "Not signed in" });
    handlers.onAccepted?.({ message_id: 2, conversation_id: 1 });
    return answer(2, "ok");
  };
  const box = new Outbox({ store: new MemoryStore(), send, sleep: () => Promise.resolve() });
  box.setUser(1);
  await box.enqueue("keep me", { conversation_id: 1 });
  await box.flush();
  expect(box.state().items).toEqual([expect.objectContaining({ text: "keep me", state: "queued" })]);
  expect(attempts).toHaveLength(1);
  box.setUser(null);
  expired = false;
  box.setUser(1);
  await box.flush();
  expect(box.state().items).toEqual([]);
  expect(attempts.map((a) => a.client_id)).toEqual([attempts[0]!.client_id, attempts[0]!.client_id]);
});
