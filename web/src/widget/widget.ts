// The widget's behaviour: opening and closing, the kept conversation, sending a message and
// showing its streamed answer, and every way that can fail (told in words, nothing typed lost).
import { ApiError, GuestsNotAllowed, HelplineClient, type ChatResponse, type HandoffState, type MessageRead, type WidgetConfig } from "./api";
import { palette } from "./colors";
import { fill, type Strings } from "./i18n";
import { followTheme } from "./theme";
import { BotMessage, View } from "./view";

type Mode = "ready" | "unavailable" | "signin";

export class Widget {
  readonly view: View;
  private mode: Mode;
  private started = false;
  private sending = false;
  /** Human handoff: who answers, the live events while a person does, the replies shown. */
  private handoffState: HandoffState | null = null;
  private live: AbortController | null = null;
  private readonly shown = new Set<number>();
  /** Answers and replies that arrived while the panel was closed (the bubble's badge). */
  private unread = 0;
  /** The answer being written, once its id is known: what Stop stops. */
  private answering: number | null = null;

  /** `config` null: the server could not be reached, so the panel says chat is unavailable.
   * `theme`: the site's data-helpline-theme ("light", "dark"; else the page's or the system's). */
  constructor(
    private readonly client: HelplineClient,
    private readonly t: Strings,
    private config: WidgetConfig | null,
    theme?: string | null,
  ) {
    this.view = new View(t, client.base, client.language);
    this.mode = this.configure(config);
    followTheme(theme, (chosen) => this.view.setDark(chosen === "dark"));
    this.bind();
  }

  private configure(config: WidgetConfig | null): Mode {
    this.config = config;
    this.view.setTheme(config?.title || this.t.title, palette(config?.accent_color));
    this.view.imageOrigins = config?.image_origins ?? [];
    return !config ? "unavailable" : config.guests_allowed ? "ready" : "signin";
  }

  /** After "Chat is unavailable": ask the server again. */
  private async reconnect(): Promise<void> {
    this.view.say(this.t.loading);
    let config: WidgetConfig | null = null;
    try {
      config = await this.client.config();
    } catch {
      // still unreachable
    }
    this.mode = this.configure(config?.enabled ? config : null);
    await this.start();
  }

  private bind(): void {
    const v = this.view;
    v.bubble.addEventListener("click", () => this.open());
    v.closeButton.addEventListener("click", () => this.close());
    v.newButton.addEventListener("click", () => void this.restart());
    v.stop.addEventListener("click", () => void this.stopAnswer());
    v.keep.addEventListener("click", (event) => {
      event.preventDefault();
      void this.keep();
    });
    v.panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.stopPropagation();
        this.close();
      } else if (event.key === "Tab" && v.panel.getAttribute("aria-modal") === "true") {
        this.trapFocus(event);
      }
    });
    // A phone turned, a window narrowed: full screen (modal) or not follows the width.
    const narrow = typeof matchMedia === "function" ? matchMedia("(max-width: 480px)") : null;
    narrow?.addEventListener("change", () => v.modal(this.isOpen && narrow.matches));
    v.form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.submit();
    });
    v.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        void this.submit();
      }
    });
    v.input.addEventListener("input", () => this.fit());
    v.talk.addEventListener("click", () => void this.askForPerson());
    v.emailForm.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.askForPerson(v.email.value.trim());
    });
  }

  /** "Talk to a person" (and, for a guest, the address to be told of the reply). */
  private async askForPerson(email?: string): Promise<void> {
    try {
      this.showHandoff(await this.client.handoff(email || undefined));
      if (email) this.view.email.value = "";
    } catch (error) {
      this.fail(error);
    }
  }

  private expectation(state: HandoffState): string {
    const e = state.expectation;
    if (!e) return "";
    const when =
      e.kind === "closed" ? fill(this.t.closed, { hours: e.opening_hours ?? "", tz: e.timezone ?? "" }) : fill(this.t.within, { minutes: e.minutes ?? 0 });
    return e.email ? `${when} ${this.t.emailed}` : when;
  }

  /** The handoff bar for `state`; follows the live events while a person has the conversation. */
  private showHandoff(state: HandoffState | null): void {
    this.handoffState = state;
    const v = this.view;
    if (!state || this.client.conversationId === null) {
      v.setHandoff(null, false, false);
      return;
    }
    const person = state.status === "waiting_for_agent" || state.status === "with_agent";
    const text =
      state.status === "waiting_for_agent"
        ? `${this.t.waiting} ${this.expectation(state)}`
        : state.status === "with_agent"
          ? fill(this.t.withAgent, { name: state.agent_name || this.t.someone })
          : state.status === "resolved"
            ? this.t.resolved
            : null;
    v.setHandoff(text, !person && this.mode === "ready", person && state.expectation?.email === false);
    if (person && !this.live) {
      const ctrl = new AbortController();
      this.live = ctrl;
      void this.client.events((kind, data) => this.onEvent(kind, data), ctrl.signal).finally(() => {
        if (this.live === ctrl) this.live = null;
      });
    } else if (!person && this.live) {
      this.live.abort();
      this.live = null;
    }
  }

  private onEvent(kind: string, data: Record<string, unknown>): void {
    const message = data.message as MessageRead | undefined;
    if (!message || this.shown.has(message.id)) return;
    if (kind === "agent") this.showMessage(message, true);
    else if (kind === "handoff") {
      this.showMessage(message, true);
      this.showHandoff(data.handoff as HandoffState);
    }
  }

  private noticeText(meta: { status?: string; agent_name?: string | null } | undefined): string {
    const name = meta?.agent_name || this.t.someone;
    if (meta?.status === "waiting_for_agent") return this.t.noticeWaiting;
    if (meta?.status === "with_agent") return fill(this.t.noticeJoined, { name });
    if (meta?.status === "resolved") return fill(this.t.noticeResolved, { name });
    return this.t.noticeBot;
  }

  /** A person's reply or a notice of a change of hands (from the history or live). */
  private showMessage(m: MessageRead, live = false): void {
    this.shown.add(m.id);
    const meta = (m.metadata ?? {}) as { author?: string; agent?: { name?: string }; handoff?: { status?: string; agent_name?: string | null } };
    if (m.message_type === "system") this.view.handoffNotice(this.noticeText(meta.handoff));
    else {
      this.view.agent(meta.agent?.name || this.t.someone, m.content);
      if (this.isOpen) void this.client.seen(m.id);
      else if (live) this.noteUnread();
    }
    this.view.follow();
  }

  private fit(): void {
    const input = this.view.input;
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight + 2, 140)}px`;
  }

  get isOpen(): boolean {
    return !this.view.panel.hidden;
  }

  open(): void {
    if (this.isOpen) return;
    this.view.setOpen(true);
    this.unread = 0;
    this.view.setUnread(0);
    if (!this.started) {
      this.started = true;
      void this.start();
    }
    this.focusInside();
  }

  close(): void {
    if (!this.isOpen) return;
    this.view.setOpen(false);
    this.view.bubble.focus();
  }

  /** Full screen (a phone), the panel is modal: Tab and Shift+Tab go round its controls. */
  private trapFocus(event: KeyboardEvent): void {
    const items = this.view.focusables();
    if (!items.length) return;
    const first = items[0] as HTMLElement;
    const last = items[items.length - 1] as HTMLElement;
    const current = this.view.focused();
    const inside = current !== null && items.includes(current as HTMLElement);
    if (event.shiftKey && (current === first || !inside)) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (current === last || !inside)) {
      event.preventDefault();
      first.focus();
    }
  }

  private focusInside(): void {
    if (this.mode === "ready") this.view.input.focus();
    else this.view.closeButton.focus();
  }

  /** Something new arrived while the panel was closed: count it on the bubble. */
  private noteUnread(): void {
    if (this.isOpen) return;
    this.unread += 1;
    this.view.setUnread(this.unread);
  }

  /** "Contact us" (window.HelplineWidget.contact): open and hand the conversation to a person,
   * through the same request for a person the "Talk to a person" button and a typed "talk to a
   * person" make. With no conversation yet, the request is its first message (about `topic`). */
  contact(topic?: string): void {
    this.open();
    const go = async () => {
      await this.ready;
      if (this.mode !== "ready" || this.sending) return;
      if (this.client.conversationId !== null) return this.askForPerson();
      const about = topic?.trim();
      this.view.input.value = about ? fill(this.t.contactAbout, { topic: about.slice(0, 300) }) : this.t.contact;
      await this.submit();
    };
    void go();
  }

  /** "New conversation": the log starts afresh; the next message opens a new conversation. */
  private async restart(): Promise<void> {
    if (this.sending) return;
    this.client.newConversation();
    this.live?.abort();
    this.live = null;
    this.shown.clear();
    this.showHandoff(null);
    this.view.offerAccount(false);
    await this.start();
    this.view.input.focus();
  }

  /** Stop the answer being written; what it wrote so far stays (see finish). */
  private async stopAnswer(): Promise<void> {
    const id = this.answering;
    if (id === null) return;
    try {
      await this.client.stop(id);
    } catch (error) {
      this.fail(error);
    }
  }

  /** "Create an account to keep this conversation": the sign-up page in a new tab, with a
   * one-time code for this guest's session. The tab is opened within the click, before the code
   * is fetched: a window opened after an await is blocked as a pop-up. */
  private async keep(): Promise<void> {
    const tab = window.open("", "_blank");
    if (tab) tab.opener = null; // as rel=noopener: the sign-up page cannot reach this page
    const url = await this.client.accountUrl();
    if (tab) tab.location.href = url;
    else window.open(url, "_blank", "noopener");
  }

  /** First opening: the greeting, then the kept conversation (if any). */
  private start(): Promise<void> {
    this.ready = this.load();
    return this.ready;
  }

  /** Settled once the first opening has shown the kept conversation (contact() waits for it). */
  private ready: Promise<void> = Promise.resolve();

  private async load(): Promise<void> {
    const v = this.view;
    v.clear();
    this.updateNewButton();
    v.greeting(this.config?.greeting ?? "");
    this.showMode();
    if (this.mode !== "ready" || this.client.conversationId === null) return;
    v.say(this.t.loading);
    try {
      const messages = await this.client.history();
      v.say(null);
      v.offerAccount(this.client.canKeep);
      for (const m of messages) {
        const person = m.message_type === "assistant" && (m.metadata as { author?: string } | null)?.author === "agent";
        if (m.message_type === "system" || person) this.showMessage(m);
        else if (m.message_type === "user") v.user(m.content);
        else if (m.message_type === "assistant" && m.status === "streaming") {
          void this.follow(v.bot(), m.id); // still being written: show the rest as it comes
        } else if (m.message_type === "assistant") {
          const bot = v.bot();
          bot.text(m.content);
          const meta = m.metadata as (Pick<ChatResponse, "sources" | "related"> & { stopped?: boolean }) | null;
          bot.done(Array.isArray(meta?.sources) ? meta.sources : null, Array.isArray(meta?.related) ? meta.related : null);
          if (m.status === "failed" || m.status === "partial") {
            bot.failed(this.t.failed, () => void this.retry(bot, m.id));
          } else {
            if (meta?.stopped) bot.stopped(this.t.stopped, () => void this.retry(bot, m.id));
            if (m.content.trim()) bot.feedback(m.feedback, (helpful) => this.vote(m.id, helpful));
          }
        }
      }
      this.showHandoff(await this.client.handoffState());
      v.follow();
    } catch (error) {
      this.fail(error);
    }
  }

  private updateNewButton(): void {
    this.view.newButton.hidden = !(this.mode === "ready" && this.client.conversationId !== null);
  }

  /** Thumbs up or down; after "not helpful", the server may offer a person. */
  private async vote(messageId: number, helpful: boolean): Promise<boolean> {
    try {
      const result = await this.client.feedback(messageId, helpful);
      if (result.offer_handoff && this.handoffState?.status !== "waiting_for_agent" && this.handoffState?.status !== "with_agent") {
        this.view.setHandoff(null, true, false);
      }
      return true;
    } catch (error) {
      this.fail(error);
      return false;
    }
  }

  private async follow(bot: BotMessage, messageId: number): Promise<void> {
    this.sending = true;
    this.answering = messageId;
    this.view.busy(true, true);
    bot.typing();
    let answer = "";
    try {
      const final = await this.client.resume(messageId, {
        typing: () => undefined,
        token: (chunk) => {
          answer += chunk;
          bot.text(answer);
          this.view.follow();
        },
        replace: (text) => {
          answer = text;
          bot.text(answer);
          this.view.follow();
        },
      });
      this.finish(bot, final);
    } catch (error) {
      bot.failed(this.t.failed);
      this.fail(error);
    } finally {
      this.sending = false;
      this.answering = null;
      this.view.busy(false);
    }
  }

  private showMode(): void {
    const v = this.view;
    v.composer(this.mode === "ready");
    if (this.mode === "unavailable") {
      v.say(this.t.unavailable, undefined, { label: this.t.retry, run: () => void this.reconnect() });
    }
    if (this.mode === "signin") {
      const site = new URL(this.client.base).host;
      v.say(fill(this.t.signIn, { site }), { href: `${this.client.base}/login`, label: site });
    }
    if (this.isOpen) this.focusInside();
  }

  /** Say what went wrong, in words a visitor can act on. */
  private fail(error: unknown): void {
    if (error instanceof GuestsNotAllowed) {
      this.mode = "signin";
      this.showMode();
    } else if (error instanceof ApiError && error.status === 429) {
      this.view.say(error.retryAfter ? fill(this.t.tooMany, { seconds: error.retryAfter }) : this.t.tooManySoon);
    } else if (error instanceof ApiError && error.status < 500 && error.detail) {
      this.view.say(error.detail);
    } else if (error instanceof ApiError && error.status < 500) {
      this.view.say(this.t.invalid);
    } else {
      this.view.say(this.t.unavailable);
    }
  }

  private async submit(): Promise<void> {
    const v = this.view;
    const text = v.input.value.trim();
    if (!text || this.sending || this.mode !== "ready") return;
    this.sending = true;
    v.busy(true);
    v.say(null);
    v.input.value = "";
    this.fit();
    v.input.focus(); // the Send button is disabled while answering, which would drop its focus
    const asked = v.user(text);
    const bot = v.bot();
    bot.typing();
    let answer = "";
    try {
      const final = await this.client.send(text, {
        typing: () => bot.typing(),
        token: (chunk) => {
          answer += chunk;
          bot.text(answer);
          v.follow();
        },
        replace: (text) => {
          answer = text;
          bot.text(answer);
          v.follow();
        },
        started: (id) => {
          this.answering = id;
          this.updateNewButton();
          v.busy(true, true);
        },
      });
      this.finish(bot, final);
    } catch (error) {
      if (answer) {
        bot.failed(this.t.failed); // the words so far stay; the log says the rest is missing
      } else {
        // Nothing came back: take the message out of the log and give it back to the visitor.
        bot.node.remove();
        asked.remove();
        if (!v.input.value) {
          v.input.value = text;
          this.fit();
        }
      }
      this.fail(error);
    } finally {
      this.sending = false;
      this.answering = null;
      v.busy(false);
      v.follow();
    }
  }

  private finish(bot: BotMessage, final: ChatResponse): void {
    this.view.offerAccount(this.client.canKeep);
    this.updateNewButton();
    if (final.handoff) {
      // A person answers: the message waits for them, no answer from the assistant follows.
      bot.node.remove();
      this.showHandoff(final.handoff);
      this.view.follow();
      return;
    }
    if (!this.handoffState || this.handoffState.status !== "bot") {
      void this.client.handoffState().then((state) => this.showHandoff(state));
    }
    if (final.content) bot.text(final.content);
    bot.done(final.sources, final.related);
    if (final.error) bot.failed(this.t.failed, () => void this.retry(bot, final.message_id));
    else {
      if (final.stopped) bot.stopped(this.t.stopped, () => void this.retry(bot, final.message_id));
      if (final.content.trim()) bot.feedback(null, (helpful) => this.vote(final.message_id, helpful));
    }
    // The whole answer in view, its sources and thumbs too (unless the reader scrolled up).
    this.view.follow();
    this.noteUnread();
  }

  private async retry(bot: BotMessage, messageId: number): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    this.view.busy(true);
    bot.typing();
    try {
      this.finish(bot, await this.client.retry(messageId));
    } catch (error) {
      bot.failed(this.t.failed, () => void this.retry(bot, messageId));
      this.fail(error);
    } finally {
      this.sending = false;
      this.view.busy(false);
      this.view.follow();
    }
  }
}
