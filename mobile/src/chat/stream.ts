// The answer's Server-Sent Events over fetch (EventSource can neither POST nor send a header).
// On a phone the body is read with expo/fetch, which streams; the web build uses the browser's
// fetch. When the connection drops mid-answer (the app went to the background, the network went
// away, or nothing arrived for a while), the stream is re-attached with GET
// /chat/stream/{message_id} and the last event id (Last-Event-ID), with backoff, until the final
// `response` or `error` event arrives. `wake` (the app came back, the network is back) cuts a
// backoff wait short. The events are parsed with eventsource-parser.
import { createParser } from "eventsource-parser";
import type { Schemas } from "../api/client";

export type FinalAnswer = Schemas["ChatResponse"];
export type SendBody = Schemas["SendRequest"];

export interface StreamHandlers {
  /** The server accepted the message: the answer's ids are known. */
  onAccepted?(ids: { message_id: number; conversation_id: number; user_message_id?: number }): void;
  onToken?(text: string): void;
  /** The guard replaced what was streamed so far: show `text` instead. */
  onReplace?(text: string): void;
  onReconnecting?(attempt: number, delayMs: number): void;
  onReconnected?(): void;
}

/** The API refused the request (429, 422, 404…): nothing was sent to the model. */
export class ApiRefusal extends Error {
  constructor(
    public status: number,
    public body: { error?: string; detail?: unknown } | null,
  ) {
    super(typeof body?.detail === "string" ? body.detail : `HTTP ${status}`);
    this.name = "ApiRefusal";
  }
}

/** The message could not reach the server (or the answer could not be re-attached). */
export class NetworkDown extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NetworkDown";
  }
}

export class Stopped extends Error {
  constructor() {
    super("Stopped");
    this.name = "AbortError";
  }
}

export type StreamFetch = (url: string, init: RequestInit) => Promise<Response>;

export interface StreamOptions {
  baseUrl: string;
  fetch: StreamFetch;
  /** The Authorization header's value, asked for each request (the token may have been refreshed). */
  authorization?: () => string | null;
  signal?: AbortSignal;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Subscribe to "try again now" (app active again, network back); returns the unsubscribe. */
  wake?: (callback: () => void) => () => void;
  baseDelayMs?: number;
  maxDelayMs?: number;
  maxAttempts?: number;
  /** No byte for this long (the server pings every 15 s): the connection is taken as dead. */
  idleMs?: number;
  /** On a wake-up, a connection silent for this long is taken as dead. */
  staleMs?: number;
}

export function backoff(attempt: number, base = 500, max = 15_000): number {
  return Math.min(max, base * 2 ** Math.max(0, attempt - 1));
}

function sleeper(options: StreamOptions): (ms: number) => Promise<void> {
  if (options.sleep) return (ms) => options.sleep!(ms, options.signal);
  return (ms) =>
    new Promise((resolve) => {
      let unwake = (): void => undefined;
      const done = () => {
        clearTimeout(timer);
        unwake();
        options.signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      unwake = options.wake?.(done) ?? unwake;
      options.signal?.addEventListener("abort", done);
    });
}

interface Cursor {
  messageId: number | null;
  lastEventId: string | null;
  final: FinalAnswer | null;
  finalKind: "response" | "error" | null;
}

function checkStopped(signal?: AbortSignal): void {
  if (signal?.aborted) throw new Stopped();
}

/** One attempt's abort: the user's stop; the idle timer; or a wake-up (the app came back to the
 * foreground, the network returned) while nothing has arrived for a few seconds: a connection
 * that was open when the phone went to sleep is most likely dead, so it is re-attached at once
 * rather than after idleMs. */
function attemptSignal(options: StreamOptions): { signal: AbortSignal; poke(): void; done(): void } {
  const controller = new AbortController();
  const idleMs = options.idleMs ?? 45_000;
  const staleMs = Math.min(idleMs, options.staleMs ?? 5_000);
  const abort = () => controller.abort();
  options.signal?.addEventListener("abort", abort);
  let timer = setTimeout(abort, idleMs);
  let last = Date.now();
  const unwake = options.wake?.(() => {
    if (Date.now() - last >= staleMs) abort();
  });
  return {
    signal: controller.signal,
    poke() {
      last = Date.now();
      clearTimeout(timer);
      timer = setTimeout(abort, idleMs);
    },
    done() {
      clearTimeout(timer);
      unwake?.();
      options.signal?.removeEventListener("abort", abort);
    },
  };
}

async function readBody(
  response: Response,
  onText: (text: string) => void,
  stopWhen: () => boolean,
  signal: AbortSignal,
): Promise<void> {
  const body = response.body;
  if (!body) {
    // No stream to read (an old fetch): take the whole body at once.
    onText(await response.text());
    return;
  }
  const reader = body.getReader();
  const decoder = new TextDecoder();
  // Whatever the fetch does on abort, a pending read ends at once (stopped, or gone idle).
  const cancel = () => void reader.cancel().catch(() => undefined);
  signal.addEventListener("abort", cancel);
  try {
    while (!stopWhen()) {
      const { done, value } = await reader.read();
      if (done) break;
      onText(typeof value === "string" ? value : decoder.decode(value as Uint8Array, { stream: true }));
    }
  } finally {
    signal.removeEventListener("abort", cancel);
    reader.cancel().catch(() => undefined);
  }
}

/** Read one SSE response, updating `cursor`; returns when the body ends, breaks or goes idle. */
async function consume(
  response: Response,
  cursor: Cursor,
  handlers: StreamHandlers,
  attempt: { signal: AbortSignal; poke(): void },
): Promise<void> {
  const parser = createParser({
    onEvent(event) {
      // The parser gives each event its own id (or none): the last one seen is kept for Last-Event-ID.
      if (event.id) cursor.lastEventId = event.id;
      let data: Record<string, unknown>;
      try {
        data = JSON.parse(event.data) as Record<string, unknown>;
      } catch {
        return;
      }
      if (cursor.messageId === null && typeof data.message_id === "number") {
        cursor.messageId = data.message_id;
        handlers.onAccepted?.({
          message_id: data.message_id,
          conversation_id: data.conversation_id as number,
          user_message_id: data.user_message_id as number | undefined,
        });
      }
      if (event.event === "token" && typeof data.content === "string") handlers.onToken?.(data.content);
      else if (event.event === "replace" && typeof data.content === "string") handlers.onReplace?.(data.content);
      else if (event.event === "response" || event.event === "error") {
        cursor.final = data as unknown as FinalAnswer;
        cursor.finalKind = event.event;
      }
    },
  });
  await readBody(
    response,
    (text) => {
      attempt.poke();
      parser.feed(text);
    },
    () => cursor.final !== null,
    attempt.signal,
  );
}

async function refusal(response: Response): Promise<ApiRefusal> {
  let body: { error?: string; detail?: unknown } | null = null;
  try {
    body = (await response.json()) as typeof body;
  } catch {
    body = null;
  }
  return new ApiRefusal(response.status, body);
}

function headers(options: StreamOptions, extra: Record<string, string>): Record<string, string> {
  const auth = options.authorization?.();
  return { Accept: "text/event-stream", ...(auth ? { Authorization: auth } : {}), ...extra };
}

/** Follow an answer to its end, re-attaching after drops. `cursor.messageId` must be known. */
async function follow(cursor: Cursor, handlers: StreamHandlers, options: StreamOptions, immediate = false): Promise<void> {
  const sleep = sleeper(options);
  const maxAttempts = options.maxAttempts ?? 20;
  let attempt = 0;
  while (cursor.final === null) {
    checkStopped(options.signal);
    if (immediate) {
      immediate = false;
    } else {
      attempt += 1;
      if (attempt > maxAttempts) throw new NetworkDown("The answer could not be re-attached");
      const delay = backoff(attempt, options.baseDelayMs, options.maxDelayMs);
      handlers.onReconnecting?.(attempt, delay);
      await sleep(delay);
      checkStopped(options.signal);
    }
    const extra: Record<string, string> = cursor.lastEventId ? { "Last-Event-ID": cursor.lastEventId } : {};
    const one = attemptSignal(options);
    try {
      let response: Response;
      try {
        response = await options.fetch(`${options.baseUrl}/api/v1/chat/stream/${cursor.messageId}`, {
          method: "GET",
          headers: headers(options, extra),
          signal: one.signal,
        });
      } catch {
        checkStopped(options.signal);
        continue; // still offline: try again later
      }
      if ([401, 403, 404].includes(response.status)) throw await refusal(response);
      if (!response.ok) continue;
      handlers.onReconnected?.();
      attempt = 0;
      try {
        await consume(response, cursor, handlers, one);
      } catch {
        checkStopped(options.signal);
      }
    } finally {
      one.done();
    }
  }
}

function finish(cursor: Cursor): FinalAnswer {
  const final = cursor.final!;
  return cursor.finalKind === "error" && !final.error ? { ...final, error: "The answer failed." } : final;
}

/** Send a message and stream its answer. Throws ApiRefusal or NetworkDown when the message was
 * not accepted (the caller keeps the user's text), Stopped when stopped. */
export async function streamMessage(
  body: SendBody,
  handlers: StreamHandlers,
  options: StreamOptions,
): Promise<FinalAnswer> {
  const cursor: Cursor = { messageId: null, lastEventId: null, final: null, finalKind: null };
  const one = attemptSignal(options);
  try {
    let response: Response;
    try {
      response = await options.fetch(`${options.baseUrl}/api/v1/chat/stream`, {
        method: "POST",
        headers: headers(options, { "Content-Type": "application/json" }),
        body: JSON.stringify(body),
        signal: one.signal,
      });
    } catch {
      checkStopped(options.signal);
      throw new NetworkDown("Cannot reach the server");
    }
    if (!response.ok) throw await refusal(response);
    try {
      await consume(response, cursor, handlers, one);
    } catch {
      checkStopped(options.signal);
    }
  } finally {
    one.done();
  }
  if (cursor.final === null && cursor.messageId === null) throw new NetworkDown("The connection dropped");
  await follow(cursor, handlers, options);
  return finish(cursor);
}

/** Attach to an answer being generated (the app restarted mid-answer) or replay a finished one. */
export async function resumeAnswer(
  messageId: number,
  handlers: StreamHandlers,
  options: StreamOptions,
  lastEventId: string | null = null,
): Promise<FinalAnswer> {
  const cursor: Cursor = { messageId, lastEventId, final: null, finalKind: null };
  await follow(cursor, handlers, options, true);
  return finish(cursor);
}
