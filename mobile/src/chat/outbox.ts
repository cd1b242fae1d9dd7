// The outbox: every message the user sends goes here first, saved on the device, then is sent in
// order, one at a time. Offline, it waits; back online, it sends. Each message carries a
// client_id (a UUID made once, when it was written), so sending it again after a drop whose
// outcome is unknown (did the server get it?) gives the first send's answer instead of a second
// message: nothing lost, nothing duplicated. A message leaves the outbox when the server has
// accepted it (its answer's first event), or when the server refused it for good (kept as
// failed, for the user to retry or discard).
import { ApiRefusal, NetworkDown, Stopped, type FinalAnswer, type SendBody, type StreamHandlers } from "./stream";
import { uuid4 } from "./uuid";

export interface KeyValueStore {
  getItem(key: string): Promise<string | null>;
  setItem(key: string, value: string): Promise<void>;
}

export interface OutboxItem {
  client_id: string;
  /** Whose message it is: only sent while that user is signed in (another may use the phone). */
  user_id: number | null;
  text: string;
  /** The server's conversation, or null for a new one. */
  conversation_id: number | null;
  /** Groups the messages written in one new conversation before the server named it. */
  thread: string;
  language?: string;
  created_at: string;
  state: "queued" | "sending" | "failed";
  error?: string;
  attempts: number;
}

/** The answer being streamed for the message the outbox sent. */
export interface LiveAnswer {
  client_id: string;
  thread: string;
  /** The message it answers, as the user wrote it. */
  user_text: string;
  conversation_id: number | null;
  message_id: number | null;
  user_message_id: number | null;
  text: string;
  reconnecting: boolean;
  final: FinalAnswer | null;
  error: string | null;
  stopped: boolean;
}

export interface OutboxState {
  items: OutboxItem[];
  live: LiveAnswer | null;
  online: boolean;
}

export type Sender = (body: SendBody, handlers: StreamHandlers, signal: AbortSignal) => Promise<FinalAnswer>;

export interface OutboxOptions {
  store: KeyValueStore;
  send: Sender;
  /** Waits before trying again after a failure that may pass (429, 5xx, a drop). */
  sleep?: (ms: number) => Promise<void>;
  retryDelayMs?: (attempt: number) => number;
  /** Called when an answer reached its end (the conversation list can refresh). */
  onAnswered?: (live: LiveAnswer) => void;
  storageKey?: string;
}

/** Whether the server refused the body because it does not know `client_id` (a server older
 * than the idempotency key answers 422 extra_forbidden on it). */
export function refusesClientId(error: unknown): boolean {
  if (!(error instanceof ApiRefusal) || error.status !== 422) return false;
  const errors = (error.body as { errors?: { field?: string | null }[] } | null)?.errors;
  return Array.isArray(errors) && errors.some((e) => e.field === "client_id" || !!e.field?.endsWith(".client_id"));
}

/** A sender that drops `client_id` for a server that refuses it, once it has refused it (and from
 * then on): sending still works there, without the protection against a duplicate after a drop. */
export function withClientIdFallback(send: Sender): Sender & { supported(): boolean } {
  let supported = true;
  const wrapped = async (body: SendBody, handlers: StreamHandlers, signal: AbortSignal) => {
    if (!supported) {
      const { client_id: _dropped, ...rest } = body;
      return send(rest, handlers, signal);
    }
    try {
      return await send(body, handlers, signal);
    } catch (error) {
      if (!refusesClientId(error)) throw error;
      supported = false;
      const { client_id: _dropped, ...rest } = body;
      return send(rest, handlers, signal);
    }
  };
  return Object.assign(wrapped, { supported: () => supported });
}

const TRANSIENT = new Set([408, 425, 429, 500, 502, 503, 504]);

export class Outbox {
  private items: OutboxItem[] = [];
  private threads: Record<string, number> = {};
  private live: LiveAnswer | null = null;
  private online = true;
  private user: number | null = null;
  /** The session ended (401): nothing is sent until a user signs in again. */
  private blocked = false;
  private running: Promise<void> | null = null;
  private again = false;
  private controller: AbortController | null = null;
  private listeners = new Set<(state: OutboxState) => void>();
  private loaded: Promise<void> | null = null;
  private key: string;

  constructor(private options: OutboxOptions) {
    this.key = options.storageKey ?? "helpline.outbox";
  }

  /** Read the saved outbox (messages written before the app was closed). */
  load(): Promise<void> {
    this.loaded ??= (async () => {
      try {
        const raw = await this.options.store.getItem(this.key);
        if (raw) {
          const saved = JSON.parse(raw) as { items?: OutboxItem[]; threads?: Record<string, number> };
          // A message that was being sent when the app stopped goes again (same client_id).
          this.items = (saved.items ?? []).map((i) => (i.state === "sending" ? { ...i, state: "queued" } : i));
          this.threads = saved.threads ?? {};
        }
      } catch {
        this.items = [];
      }
      this.emit();
    })();
    return this.loaded;
  }

  /** What the signed-in user sees: their own messages only. */
  state(): OutboxState {
    return {
      items: this.items.filter((i) => i.user_id === this.user),
      live: this.live ? { ...this.live } : null,
      online: this.online,
    };
  }

  subscribe(listener: (state: OutboxState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Who is signed in: their messages are sent, nobody else's (null: none are). */
  setUser(userId: number | null): void {
    const changed = this.user !== userId;
    this.user = userId;
    this.blocked = false;
    if (changed) {
      if (this.live && !this.running) this.live = null;
      this.emit();
    }
    if (userId !== null) void this.flush();
  }

  /** Write a message: saved first, then sent when it is its turn and the device is online. */
  async enqueue(text: string, target: { conversation_id: number | null; thread?: string; language?: string }) {
    await this.load();
    const item: OutboxItem = {
      client_id: uuid4(),
      user_id: this.user,
      text,
      conversation_id: target.conversation_id,
      thread: target.thread ?? (target.conversation_id !== null ? `c${target.conversation_id}` : uuid4()),
      language: target.language,
      created_at: new Date().toISOString(),
      state: "queued",
      attempts: 0,
    };
    this.items.push(item);
    await this.save();
    this.emit();
    void this.flush();
    return item;
  }

  /** The server's id of a thread's conversation, once its first message was accepted. */
  conversationOf(thread: string): number | null {
    return this.threads[thread] ?? null;
  }

  setOnline(online: boolean): void {
    const changed = this.online !== online;
    this.online = online;
    if (changed) this.emit();
    if (online) void this.flush();
  }

  /** Try a failed message again (same client_id). */
  async retry(clientId: string): Promise<void> {
    this.items = this.items.map((i) => (i.client_id === clientId ? { ...i, state: "queued", error: undefined } : i));
    await this.save();
    this.emit();
    void this.flush();
  }

  async discard(clientId: string): Promise<void> {
    this.items = this.items.filter((i) => i.client_id !== clientId);
    await this.save();
    this.emit();
  }

  /** Stop the answer being streamed (the caller also asks the server to stop it). */
  stop(): LiveAnswer | null {
    this.controller?.abort();
    return this.live;
  }

  /** Send what is queued, in order, until the outbox is empty, offline or blocked. */
  flush(): Promise<void> {
    if (this.running) {
      // Asked again while running (back online, a new message): go round once more at the end.
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.run();
      } while (this.again);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async run(): Promise<void> {
    await this.load();
    for (;;) {
      if (!this.online || this.user === null || this.blocked) return;
      const item = this.items.find((i) => i.state !== "failed" && i.user_id === this.user);
      if (!item) return;
      const outcome = await this.sendOne(item);
      if (outcome === "signed-out") {
        this.blocked = true;
        return;
      }
      if (outcome === "wait") {
        if (!this.online) return;
        const delay = this.options.retryDelayMs?.(item.attempts) ?? Math.min(30_000, 1000 * 2 ** item.attempts);
        await (this.options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms))))(delay);
      }
    }
  }

  private async sendOne(item: OutboxItem): Promise<"done" | "wait" | "signed-out"> {
    const conversation_id = item.conversation_id ?? this.threads[item.thread] ?? null;
    item.state = "sending";
    item.attempts += 1;
    await this.save();
    const controller = new AbortController();
    this.controller = controller;
    this.live = {
      client_id: item.client_id,
      thread: item.thread,
      user_text: item.text,
      conversation_id,
      message_id: null,
      user_message_id: null,
      text: "",
      reconnecting: false,
      final: null,
      error: null,
      stopped: false,
    };
    this.emit();
    const body: SendBody = { message: item.text, conversation_id, client_id: item.client_id };
    if (item.language) body.language = item.language;
    let accepted = false;
    const handlers: StreamHandlers = {
      onAccepted: (ids) => {
        accepted = true;
        this.threads[item.thread] = ids.conversation_id;
        this.items = this.items.filter((i) => i.client_id !== item.client_id);
        void this.save();
        this.update({
          conversation_id: ids.conversation_id,
          message_id: ids.message_id,
          user_message_id: ids.user_message_id ?? null,
        });
      },
      onToken: (text) => this.update({ text: (this.live?.text ?? "") + text, reconnecting: false }),
      onReplace: (text) => this.update({ text }),
      onReconnecting: () => this.update({ reconnecting: true }),
      onReconnected: () => this.update({ reconnecting: false }),
    };
    try {
      const final = await this.options.send(body, handlers, controller.signal);
      if (!accepted) handlers.onAccepted!({ message_id: final.message_id, conversation_id: final.conversation_id });
      this.update({ final, text: final.content, error: final.error ?? null, reconnecting: false });
      this.options.onAnswered?.(this.live!);
      return "done";
    } catch (error) {
      if (error instanceof Stopped || (error as Error)?.name === "AbortError") {
        if (!accepted) {
          // Stopped before the server had it: it stays, to send again.
          item.state = "failed";
          item.error = "Stopped before it was sent";
          await this.save();
        }
        this.update({ stopped: true, reconnecting: false });
        return "done";
      }
      if (accepted) {
        // The server has the message; only its answer's stream was lost. The conversation shows
        // the stored answer when it is loaded again.
        this.update({ error: "The connection was lost. Pull to refresh.", reconnecting: false });
        return "done";
      }
      if (error instanceof ApiRefusal && error.status === 401) {
        // The session ended: the message waits for its user to sign in again (signIn flushes).
        item.state = "queued";
        await this.save();
        this.live = null;
        this.emit();
        return "signed-out";
      }
      if (error instanceof ApiRefusal && !TRANSIENT.has(error.status)) {
        item.state = "failed";
        item.error = error.message;
        await this.save();
        this.live = null;
        this.emit();
        return "done";
      }
      // NetworkDown, 429, 5xx: it stays queued and goes again (same client_id).
      item.state = "queued";
      await this.save();
      this.live = null;
      this.emit();
      if (error instanceof NetworkDown || error instanceof ApiRefusal) return "wait";
      return "wait";
    } finally {
      this.controller = null;
    }
  }

  private update(patch: Partial<LiveAnswer>): void {
    if (!this.live) return;
    this.live = { ...this.live, ...patch };
    this.emit();
  }

  private async save(): Promise<void> {
    await this.options.store.setItem(this.key, JSON.stringify({ items: this.items, threads: this.threads }));
  }

  private emit(): void {
    const state = this.state();
    for (const listener of this.listeners) listener(state);
  }
}
