// The answer's Server-Sent Events, read with fetch() (EventSource can neither POST nor send an
// Authorization header) and parsed with eventsource-parser. When the connection drops mid-answer,
// the stream is re-attached with GET /chat/stream/{message_id} and the last event id, with backoff,
// until the final `response` or `error` event arrives.
import { createParser, type EventSourceMessage } from "eventsource-parser";
import type { Schemas } from "../../api/client";

export { clientIdFor, newClientId } from "../../api/clientId";

export type FinalAnswer = Schemas["ChatResponse"];

export interface StreamHandlers {
  /** The server accepted the message: the answer's ids are known. */
  onAccepted?(ids: { message_id: number; conversation_id: number; user_message_id?: number }): void;
  /** A piece of the answer, to append to what is shown. */
  onToken?(text: string): void;
  /** The server rejected what was streamed so far (the grounded-answer guard): show `text` instead. */
  onReplace?(text: string): void;
  /** The connection dropped; re-attaching after `delayMs` (attempt 1, 2, …). */
  onReconnecting?(attempt: number, delayMs: number): void;
  /** Re-attached after a drop. */
  onReconnected?(): void;
}

/** The API refused the request (429, 422, 404…): nothing was sent to the model. */
export class ApiRefusal extends Error {
  constructor(
    public status: number,
    public body: { error?: string; detail?: unknown } | null,
  ) {
    super(typeof body?.detail === "string" ? body.detail : `HTTP ${status}`);
  }
}

/** The message could not reach the server at all. */
export class NetworkDown extends Error {}

type Fetcher = (request: Request) => Promise<Response>;

export interface StreamOptions {
  fetch: Fetcher;
  signal?: AbortSignal;
  /** Waits between re-attach attempts (tests pass an instant one). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Backoff: base * 2^(attempt-1), capped. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Give up after this many failed re-attach attempts in a row. */
  maxAttempts?: number;
}

export function backoff(attempt: number, base = 500, max = 15_000): number {
  return Math.min(max, base * 2 ** Math.max(0, attempt - 1));
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      globalThis.removeEventListener?.("online", done);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    // Back online: try at once rather than waiting out the backoff.
    globalThis.addEventListener?.("online", done);
    signal?.addEventListener("abort", done);
  });
}

interface Cursor {
  messageId: number | null;
  lastEventId: string | null;
  final: FinalAnswer | null;
  finalKind: "response" | "error" | null;
}

/** Read one SSE response body, updating `cursor`; returns when the body ends or breaks. */
async function consume(response: Response, cursor: Cursor, handlers: StreamHandlers): Promise<void> {
  const parser = createParser({
    onEvent(event: EventSourceMessage) {
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
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  try {
    while (cursor.final === null) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.feed(value);
    }
  } finally {
    reader.cancel().catch(() => undefined);
  }
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

/** Stopped by the user: rethrow as an AbortError, whatever the fetch or the body threw. */
function throwIfAborted(error: unknown, signal?: AbortSignal): void {
  if (signal?.aborted || (error instanceof DOMException && error.name === "AbortError")) {
    throw new DOMException("Stopped", "AbortError");
  }
}

/** Follow an answer to its end, re-attaching after drops. `cursor.messageId` must be known. */
async function follow(
  cursor: Cursor,
  handlers: StreamHandlers,
  options: StreamOptions,
  immediate = false,
): Promise<FinalAnswer> {
  const sleep = options.sleep ?? defaultSleep;
  const maxAttempts = options.maxAttempts ?? 20;
  let attempt = 0;
  while (cursor.final === null) {
    if (options.signal?.aborted) throw new DOMException("Stopped", "AbortError");
    if (immediate) {
      immediate = false; // a first attach (page reload): no wait, no "reconnecting" notice
    } else {
      attempt += 1;
      if (attempt > maxAttempts) throw new NetworkDown("The answer could not be re-attached");
      const delay = backoff(attempt, options.baseDelayMs, options.maxDelayMs);
      handlers.onReconnecting?.(attempt, delay);
      await sleep(delay, options.signal);
      if (options.signal?.aborted) throw new DOMException("Stopped", "AbortError");
    }
    const headers = new Headers({ Accept: "text/event-stream" });
    if (cursor.lastEventId) headers.set("Last-Event-ID", cursor.lastEventId);
    let response: Response;
    try {
      response = await options.fetch(
        new Request(`${location.origin}/api/v1/chat/stream/${cursor.messageId}`, { headers, signal: options.signal }),
      );
    } catch (error) {
      throwIfAborted(error, options.signal);
      continue; // still offline: try again later
    }
    if (response.status === 404 || response.status === 401 || response.status === 403) throw await refusal(response);
    if (!response.ok || !response.body) continue;
    handlers.onReconnected?.();
    attempt = 0;
    try {
      await consume(response, cursor, handlers);
    } catch (error) {
      throwIfAborted(error, options.signal);
    }
  }
  return cursor.final;
}

function finish(cursor: Cursor): FinalAnswer {
  const final = cursor.final!;
  // An `error` event is a stored failed/partial answer: keep its error text for the Retry prompt.
  return cursor.finalKind === "error" && !final.error ? { ...final, error: "The answer failed." } : final;
}

/** Send a message and stream its answer. Throws ApiRefusal/NetworkDown when the message was not
 * accepted (the caller keeps the user's text), AbortError when stopped. */
export async function streamMessage(
  body: Schemas["SendRequest"],
  handlers: StreamHandlers,
  options: StreamOptions,
): Promise<FinalAnswer> {
  const cursor: Cursor = { messageId: null, lastEventId: null, final: null, finalKind: null };
  let response: Response;
  try {
    response = await options.fetch(
      new Request(`${location.origin}/api/v1/chat/stream`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify(body),
        signal: options.signal,
      }),
    );
  } catch (error) {
    throwIfAborted(error, options.signal);
    throw new NetworkDown("Cannot reach the server");
  }
  if (!response.ok || !response.body) throw await refusal(response);
  try {
    await consume(response, cursor, handlers);
  } catch (error) {
    throwIfAborted(error, options.signal);
  }
  if (cursor.final === null && cursor.messageId === null) throw new NetworkDown("The connection dropped");
  await follow(cursor, handlers, options);
  return finish(cursor);
}

/** Attach to an answer already being generated (a reload mid-answer) or replay a finished one. */
export async function resumeAnswer(
  messageId: number,
  handlers: StreamHandlers,
  options: StreamOptions,
): Promise<FinalAnswer> {
  const cursor: Cursor = { messageId, lastEventId: null, final: null, finalKind: null };
  await follow(cursor, handlers, options, true);
  return finish(cursor);
}

