// The widget's side of Helpline's API: its public settings, a guest identity kept in
// localStorage (namespaced by the API origin), silent refresh, and answers streamed over SSE
// with re-attachment after a dropped connection. One dependency, eventsource-parser (about 1 kB
// gzip), bundled in: the widget ships as one small file.
import { createParser, type EventSourceMessage } from "eventsource-parser";
import type { components } from "../api/schema";
import { clientIdFor } from "../api/clientId";

export type ChatResponse = components["schemas"]["ChatResponse"];
export type MessageRead = components["schemas"]["MessageRead"];
export type Source = components["schemas"]["Source"];
export type HandoffState = components["schemas"]["HandoffState"];
type TokenResponse = components["schemas"]["TokenResponse"];
type GuestHandoff = components["schemas"]["GuestHandoff"];

export interface WidgetConfig {
  enabled: boolean;
  guests_allowed: boolean;
  title: string;
  greeting: string;
  accent_color: string;
  /** https origins images in answers may load from (besides the server's own). */
  image_origins?: string[];
}

/** The server answered with an error status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly retryAfter: number | null = null,
  ) {
    super(detail);
  }
}

/** The server could not be reached (offline, down, or this page's origin is not allowed by CORS). */
export class Unreachable extends Error {}

/** Guests may not chat here: the visitor has to sign in on the Helpline site. */
export class GuestsNotAllowed extends Error {}

export interface StreamHandlers {
  typing(): void;
  token(text: string): void;
  /** The server rejected what was streamed so far (the grounded-answer guard): show `text` instead. */
  replace(text: string): void;
  /** The answer's id is known (it can be stopped from now on). */
  started?(messageId: number): void;
}

export type FeedbackRead = components["schemas"]["FeedbackRead"];

interface Stored {
  access_token?: string;
  refresh_token?: string;
  conversation_id?: number;
}

const RESUME_ATTEMPTS = 5;
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function apiError(response: Response): Promise<ApiError> {
  let detail = "";
  try {
    const body = (await response.json()) as { detail?: unknown };
    if (typeof body.detail === "string") detail = body.detail;
  } catch {
    // Not JSON (a proxy's error page): the status says enough.
  }
  const after = Number(response.headers.get("Retry-After"));
  return new ApiError(response.status, detail, Number.isFinite(after) && after > 0 ? after : null);
}

export class HelplineClient {
  private readonly storeKey: string;
  /** The last message whose send was not accepted (the connection dropped): sent again with the
   * same text, it keeps its client_id, so the server stores and answers it once. */
  private unsent: { text: string; clientId: string } | null = null;

  constructor(
    readonly base: string,
    private readonly siteKey: string | null,
    readonly language: string,
  ) {
    this.storeKey = `helpline-widget:${base}`;
  }

  private get stored(): Stored {
    try {
      const value: unknown = JSON.parse(localStorage.getItem(this.storeKey) ?? "{}");
      return value && typeof value === "object" ? (value as Stored) : {};
    } catch {
      return {}; // storage blocked (privacy mode) or garbled: start afresh
    }
  }

  private store(patch: Stored | null): void {
    try {
      if (patch === null) localStorage.removeItem(this.storeKey);
      else localStorage.setItem(this.storeKey, JSON.stringify({ ...this.stored, ...patch }));
    } catch {
      // Storage blocked: the conversation lasts as long as the page.
    }
  }

  /** Helpline's sign-up page. */
  get registerPage(): string {
    return `${this.base}/register`;
  }

  /** Whether there is a guest conversation a new account could keep. */
  get canKeep(): boolean {
    return Boolean(this.stored.refresh_token) && this.conversationId !== null;
  }

  /** The sign-up page, handed this guest's session so the new account keeps the conversation: a
   * one-time code (5 minutes) in the fragment, which the page redeems and removes from the
   * address. Never the guest's tokens, which would stay usable in the browser's history. The
   * plain sign-up page when no code can be had (session over, server unreachable). */
  async accountUrl(): Promise<string> {
    try {
      const response = await this.authed("/api/v1/auth/guest/handoff", () => ({ method: "POST" }), false);
      if (!response?.ok) return this.registerPage;
      const { code } = (await response.json()) as GuestHandoff;
      return `${this.registerPage}#handoff=${encodeURIComponent(code)}`;
    } catch {
      return this.registerPage;
    }
  }

  get conversationId(): number | null {
    return this.stored.conversation_id ?? null;
  }

  private async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    try {
      return await fetch(this.base + path, init);
    } catch {
      throw new Unreachable();
    }
  }

  /** The site's widget settings; null when the widget is switched off (or the key is wrong). */
  async config(): Promise<WidgetConfig | null> {
    const query = this.siteKey ? `?key=${encodeURIComponent(this.siteKey)}` : "";
    const response = await this.fetch(`/api/v1/widget/config${query}`);
    if (response.status === 404) return null;
    if (response.status === 403) {
      console.warn("Helpline widget: the site key (data-helpline-key) is not valid for", this.base);
      return null;
    }
    if (!response.ok) throw await apiError(response);
    return (await response.json()) as WidgetConfig;
  }

  private async guest(): Promise<void> {
    const response = await this.fetch("/api/v1/auth/guest", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ site_key: this.siteKey, language: this.language }),
    });
    if (response.status === 403) throw new GuestsNotAllowed();
    if (!response.ok) throw await apiError(response);
    const tokens = (await response.json()) as TokenResponse;
    // A new identity: the previous conversation belongs to someone else now.
    this.store(null);
    this.store({ access_token: tokens.access_token, refresh_token: tokens.refresh_token });
  }

  private async refresh(): Promise<boolean> {
    const refresh_token = this.stored.refresh_token;
    if (!refresh_token) return false;
    const response = await this.fetch("/api/v1/auth/refresh", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token }),
    });
    if (!response.ok) return false;
    const tokens = (await response.json()) as TokenResponse;
    this.store({ access_token: tokens.access_token, refresh_token: tokens.refresh_token });
    return true;
  }

  /** A request with the guest's bearer token. Creates a guest when there is none (unless
   * `create` is false); on a 401 refreshes once, then starts a new guest session. `init` is
   * called for each attempt, so a body can use the conversation id of the identity it is sent as. */
  private async authed(path: string, init: () => RequestInit, create = true): Promise<Response | null> {
    const send = () => {
      const request = init();
      const headers = new Headers(request.headers);
      headers.set("Authorization", `Bearer ${this.stored.access_token ?? ""}`);
      return this.fetch(path, { ...request, headers });
    };
    if (!this.stored.access_token) {
      if (!create) return null;
      await this.guest();
    }
    let response = await send();
    if (response.status !== 401) return response;
    if (await this.refresh()) {
      response = await send();
      if (response.status !== 401) return response;
    }
    if (!create) {
      this.store(null);
      return null;
    }
    await this.guest();
    return send();
  }

  /** The kept conversation's messages (oldest first), or [] when there is none to show. */
  async history(): Promise<MessageRead[]> {
    const id = this.conversationId;
    if (id === null) return [];
    const response = await this.authed(`/api/v1/conversations/${id}?limit=50`, () => ({}), false);
    if (response === null) return [];
    if (response.status === 404) {
      this.store({ conversation_id: undefined });
      return [];
    }
    if (!response.ok) throw await apiError(response);
    const detail = (await response.json()) as { messages: MessageRead[] };
    return detail.messages;
  }

  /** Send a message and stream the answer; resolves with the stored answer (its `error` set if
   * the model failed). A dropped connection is re-attached to the same answer, not resent. */
  async send(message: string, on: StreamHandlers): Promise<ChatResponse> {
    const clientId = clientIdFor(this.unsent, message);
    this.unsent = { text: message, clientId };
    const start = () =>
      this.authed("/api/v1/chat/stream", () => ({
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify({
          message,
          conversation_id: this.conversationId,
          language: this.language,
          client_id: clientId,
        }),
      }));
    let response = await start();
    if (response?.status === 404 && this.conversationId !== null) {
      // The kept conversation is gone (deleted, or cleaned up with an old guest): start a new one.
      this.store({ conversation_id: undefined });
      response = await start();
    }
    if (!response) throw new Unreachable();
    if (!response.ok) throw await apiError(response);
    this.unsent = null; // accepted: stored once, whatever happens to the stream
    const state: StreamState = { messageId: null, lastId: null, final: null };
    await this.consume(response, on, state);
    if (state.final) return state.final;
    if (state.messageId === null) throw new Unreachable(); // dropped before the answer began
    return this.follow(state, on, true);
  }

  /** Follow an answer still being written (after a reload mid-answer), from its first word. */
  resume(messageId: number, on: StreamHandlers): Promise<ChatResponse> {
    return this.follow({ messageId, lastId: null, final: null }, on, false);
  }

  private async follow(state: StreamState, on: StreamHandlers, backoff: boolean): Promise<ChatResponse> {
    for (let attempt = 0; !state.final && attempt < RESUME_ATTEMPTS; attempt++) {
      if (backoff || attempt > 0) await wait(400 * 2 ** attempt);
      const headers: Record<string, string> = { Accept: "text/event-stream" };
      if (state.lastId) headers["Last-Event-ID"] = state.lastId;
      try {
        const again = await this.authed(`/api/v1/chat/stream/${state.messageId}`, () => ({ headers }), false);
        if (again?.ok) await this.consume(again, on, state);
        else if (again) throw await apiError(again);
        else throw new Unreachable();
      } catch (error) {
        if (!(error instanceof Unreachable)) throw error;
      }
    }
    if (!state.final) throw new Unreachable();
    return state.final;
  }

  /** Generate a failed answer again (answered whole, not streamed). */
  async retry(messageId: number): Promise<ChatResponse> {
    const response = await this.authed(`/api/v1/chat/messages/${messageId}/retry`, () => ({ method: "POST" }), false);
    if (!response) throw new Unreachable();
    if (!response.ok) throw await apiError(response);
    return (await response.json()) as ChatResponse;
  }

  /** Stop an answer being written: the text so far is kept as the answer (`stopped`). The stream
   * being followed then ends with that answer. Resolves false when it had already finished. */
  async stop(messageId: number): Promise<boolean> {
    const response = await this.authed(`/api/v1/chat/messages/${messageId}/stop`, () => ({ method: "POST" }), false);
    if (!response) throw new Unreachable();
    if (response.status === 409) return false;
    if (!response.ok) throw await apiError(response);
    return true;
  }

  /** Thumbs up or down on an answer (sending again changes the verdict). */
  async feedback(messageId: number, helpful: boolean): Promise<FeedbackRead> {
    const response = await this.authed(
      `/api/v1/messages/${messageId}/feedback`,
      () => ({ method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ helpful }) }),
      false,
    );
    if (!response) throw new Unreachable();
    if (!response.ok) throw await apiError(response);
    return (await response.json()) as FeedbackRead;
  }

  /** Start afresh: the next message opens a new conversation (the old one stays on the server,
   * and with an account made from this guest). */
  newConversation(): void {
    this.store({ conversation_id: undefined });
  }

  /** Who answers the kept conversation (the assistant or a person); null without one. */
  async handoffState(): Promise<HandoffState | null> {
    const id = this.conversationId;
    if (id === null) return null;
    try {
      const response = await this.authed(`/api/v1/conversations/${id}/handoff`, () => ({}), false);
      if (!response?.ok) return null;
      return (await response.json()) as HandoffState;
    } catch {
      return null; // unknown for now: the bar stays as it was
    }
  }

  /** Ask for a person; `email`: where to tell this guest of the reply. */
  async handoff(email?: string): Promise<HandoffState> {
    const id = this.conversationId;
    if (id === null) throw new ApiError(404, "No conversation yet");
    const response = await this.authed(
      `/api/v1/conversations/${id}/handoff`,
      () => ({ method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(email ? { email } : {}) }),
      false,
    );
    if (!response) throw new Unreachable();
    if (!response.ok) throw await apiError(response);
    return (await response.json()) as HandoffState;
  }

  /** The replies up to `upTo` were shown: they are not emailed. */
  async seen(upTo: number): Promise<void> {
    const id = this.conversationId;
    if (id === null) return;
    try {
      await this.authed(
        `/api/v1/conversations/${id}/handoff/seen`,
        () => ({ method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ up_to: upTo }) }),
        false,
      );
    } catch {
      // Not told: at worst the visitor also gets the reply by email.
    }
  }

  /** While a person has the conversation: their replies and its changes of hands, live, until
   * `signal` aborts (re-attached after a drop). */
  async events(on: (kind: string, data: Record<string, unknown>) => void, signal: AbortSignal): Promise<void> {
    for (let attempt = 0; !signal.aborted; attempt++) {
      const id = this.conversationId;
      if (id === null) return;
      try {
        const response = await this.authed(`/api/v1/conversations/${id}/events`, () => ({ headers: { Accept: "text/event-stream" }, signal }), false);
        if (!response || response.status === 404) return;
        if (response.ok && response.body) {
          attempt = 0;
          const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
          const parser = createParser({
            onEvent(event) {
              try {
                on(event.event ?? "message", JSON.parse(event.data) as Record<string, unknown>);
              } catch {
                // not JSON: skip
              }
            },
          });
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            parser.feed(value);
          }
        }
      } catch {
        if (signal.aborted) return;
      }
      await wait(Math.min(15_000, 500 * 2 ** attempt));
    }
  }

  private async consume(response: Response, on: StreamHandlers, state: StreamState): Promise<void> {
    if (!response.body) return;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    // The events a chunk completed, handled in order after feeding it (a handler may end the read).
    const events: EventSourceMessage[] = [];
    const parser = createParser({ onEvent: (event) => void events.push(event) });
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        parser.feed(value);
        for (const event of events.splice(0)) {
          let data: Record<string, unknown>;
          try {
            data = JSON.parse(event.data) as Record<string, unknown>;
          } catch {
            continue;
          }
          if (event.id) state.lastId = event.id;
          if (typeof data.message_id === "number" && state.messageId !== data.message_id) {
            state.messageId = data.message_id;
            on.started?.(data.message_id);
          }
          if (typeof data.conversation_id === "number") this.store({ conversation_id: data.conversation_id });
          if (event.event === "typing") on.typing();
          else if (event.event === "token" && typeof data.content === "string") on.token(data.content);
          else if (event.event === "replace" && typeof data.content === "string") on.replace(data.content);
          else if (event.event === "response" || event.event === "error") {
            state.final = data as unknown as ChatResponse;
            await reader.cancel();
            return;
          }
        }
      }
    } catch {
      // The connection dropped mid-answer: the caller re-attaches after the last event seen.
    }
  }
}

interface StreamState {
  messageId: number | null;
  lastId: string | null;
  final: ChatResponse | null;
}
