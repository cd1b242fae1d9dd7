// The widget's behaviour: opening and closing, the kept conversation, sending a message and
// showing its streamed answer, and every way that can fail (told in words, nothing typed lost).
import { ApiError, GuestsNotAllowed, HelplineClient, type ChatResponse, type HandoffState, type MessageRead, type WidgetConfig } from "./api";
import { palette } from "./colors";
import { fill, type Strings } from "./i18n";
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

  /** `config` null: the server could not be reached, so the panel says chat is unavailable. */
  constructor(
    private readonly client: HelplineClient,
    private readonly t: Strings,
    private config: WidgetConfig | null,
  ) {
    this.view = new View(t, client.base, client.language);
    this.mode = this.configure(config);
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
    v.keep.addEventListener("click", (event) => {
      event.preventDefault();
      void this.keep();
    });
    v.panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.stopPropagation();
        this.close();
      }
    });
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
    if (kind === "agent") this.showMessage(message);
    else if (kind === "handoff") {
      this.showMessage(message);
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
  private showMessage(m: MessageRead): void {
    this.shown.add(m.id);
    const meta = (m.metadata ?? {}) as { author?: string; agent?: { name?: string }; handoff?: { status?: string; agent_name?: string | null } };
    if (m.message_type === "system") this.view.handoffNotice(this.noticeText(meta.handoff));
    else {
      this.view.agent(meta.agent?.name || this.t.someone, m.content);
      if (this.isOpen) void this.client.seen(m.id);
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

  private focusInside(): void {
    if (this.mode === "ready") this.view.input.focus();
    else this.view.closeButton.focus();
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
  private async start(): Promise<void> {
    const v = this.view;
    v.clear();
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
          const meta = m.metadata as Pick<ChatResponse, "sources" | "related"> | null;
          bot.done(Array.isArray(meta?.sources) ? meta.sources : null, Array.isArray(meta?.related) ? meta.related : null);
          if (m.status === "failed" || m.status === "partial") {
            bot.failed(this.t.failed, () => void this.retry(bot, m.id));
          }
        }
      }
      this.showHandoff(await this.client.handoffState());
    } catch (error) {
      this.fail(error);
    }
  }

  private async follow(bot: BotMessage, messageId: number): Promise<void> {
    this.sending = true;
    this.view.busy(true);
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
      v.busy(false);
      v.follow();
    }
  }

  private finish(bot: BotMessage, final: ChatResponse): void {
    this.view.offerAccount(this.client.canKeep);
    if (final.handoff) {
      // A person answers: the message waits for them, no answer from the assistant follows.
      bot.node.remove();
      this.showHandoff(final.handoff);
      return;
    }
    if (!this.handoffState || this.handoffState.status !== "bot") {
      void this.client.handoffState().then((state) => this.showHandoff(state));
    }
    if (final.content) bot.text(final.content);
    bot.done(final.sources, final.related);
    if (final.error) bot.failed(this.t.failed, () => void this.retry(bot, final.message_id));
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
