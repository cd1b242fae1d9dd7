// The widget's DOM: a bubble button and a chat panel inside a shadow root, and the pieces the
// controller (widget.ts) fills in. No logic about the API lives here.
import type { Source } from "./api";
import { fill, type Strings } from "./i18n";
import { externalLink, renderMarkdown } from "./markdown";
import type { Palette } from "./colors";
import css from "./widget.css?inline";

const CHAT_ICON = "M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12z";
const CLOSE_ICON = "M6 6l12 12M18 6L6 18";
const NEW_ICON = "M12 5v14M5 12h14";
const UP_ICON = "M7 10v11M15 5.9 14 10h5.8a2 2 0 0 1 1.9 2.6l-2.3 7A2 2 0 0 1 17.5 21H7V10l4-8a3 3 0 0 1 4 3.9z";
const DOWN_ICON = "M17 14V3M9 18.1 10 14H4.2a2 2 0 0 1-1.9-2.6l2.3-7A2 2 0 0 1 6.5 3H17v11l-4 8a3 3 0 0 1-4-3.9z";

/** A line icon, built node by node: no innerHTML, so pages enforcing Trusted Types are fine. */
function icon(d: string): SVGSVGElement {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  const path = document.createElementNS(ns, "path");
  const attrs = {
    viewBox: "0 0 24 24",
    fill: "none",
    stroke: "currentColor",
    "stroke-width": "2",
    "stroke-linecap": "round",
    "stroke-linejoin": "round",
    "aria-hidden": "true",
    focusable: "false",
  };
  for (const [name, value] of Object.entries(attrs)) svg.setAttribute(name, value);
  path.setAttribute("d", d);
  svg.appendChild(path);
  return svg;
}

/** The stylesheet, adopted where supported: unlike a <style> element, a page's CSP
 * (style-src without 'unsafe-inline') does not block it. */
function styles(root: ShadowRoot): void {
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    root.adoptedStyleSheets = [sheet];
  } catch {
    const style = document.createElement("style");
    style.textContent = css;
    root.append(style);
  }
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = "", text = ""): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

/** One answer in the log: typing dots until the first words, then Markdown, then its sources. */
export class BotMessage {
  readonly node = el("div", "msg bot");
  private readonly body = el("div", "body");

  constructor(
    private readonly t: Strings,
    private readonly base: string,
    private readonly imageOrigins: readonly string[] = [],
  ) {
    this.node.append(el("span", "sr-only", t.assistant), this.body);
  }

  typing(): void {
    this.node.setAttribute("aria-busy", "true");
    const dots = el("span", "dots");
    dots.append(el("span"), el("span"), el("span"), el("span", "sr-only", this.t.typing));
    this.body.replaceChildren(dots);
  }

  text(markdown: string): void {
    this.body.replaceChildren(renderMarkdown(markdown, this.base, this.imageOrigins));
  }

  /** The answer is complete: list its sources, and the closest articles given with an honest
   * "I don't know" (`related`). */
  done(sources: Source[] | null | undefined, related?: Source[] | null): void {
    this.node.removeAttribute("aria-busy");
    for (const box of this.node.querySelectorAll(".sources")) box.remove();
    this.articles(this.t.sources, sources);
    this.articles(this.t.related, related);
  }

  private articles(title: string, sources: Source[] | null | undefined): void {
    if (!sources?.length) return;
    const box = el("div", "sources");
    const list = el("ul");
    for (const source of sources) {
      const li = el("li");
      if (source.slug) {
        const a = externalLink(`${this.base}/help/${encodeURIComponent(source.slug)}`, source.question);
        a.append(" ", el("span", "sr-only", this.t.newTab));
        li.append(a);
      } else {
        li.textContent = source.question;
      }
      list.append(li);
    }
    box.append(el("h3", "", title), list);
    this.node.append(box);
  }

  /** The reader stopped it: say so under what was written (and offer to write it again). */
  stopped(message: string, retry?: () => void): void {
    this.node.removeAttribute("aria-busy");
    this.node.classList.add("stopped");
    if (!this.body.textContent?.trim()) this.body.replaceChildren();
    const note = el("p", "stopped-note", message);
    if (retry) {
      const button = el("button", "retry", this.t.retry);
      button.type = "button";
      button.addEventListener("click", () => {
        note.remove();
        this.node.classList.remove("stopped");
        retry();
      });
      note.append(" ", button);
    }
    this.body.append(note);
  }

  /** Thumbs up and down; `current`: the verdict already given. `vote` sends one (and resolves
   * false when it failed, so the buttons go back as they were). */
  feedback(current: boolean | null | undefined, vote: (helpful: boolean) => Promise<boolean>): void {
    this.node.querySelector(".feedback")?.remove();
    const box = el("div", "feedback");
    const status = el("span", "feedback-status");
    status.setAttribute("role", "status");
    const make = (helpful: boolean) => {
      const button = el("button", helpful ? "thumb up" : "thumb down");
      button.type = "button";
      button.append(icon(helpful ? UP_ICON : DOWN_ICON));
      button.setAttribute("aria-label", helpful ? this.t.helpful : this.t.notHelpful);
      button.title = helpful ? this.t.helpful : this.t.notHelpful;
      button.setAttribute("aria-pressed", String(current === helpful));
      button.addEventListener("click", () => {
        const before = [up.getAttribute("aria-pressed"), down.getAttribute("aria-pressed")];
        up.setAttribute("aria-pressed", String(helpful));
        down.setAttribute("aria-pressed", String(!helpful));
        void vote(helpful).then((ok) => {
          if (ok) status.textContent = this.t.thanks;
          else {
            up.setAttribute("aria-pressed", before[0] ?? "false");
            down.setAttribute("aria-pressed", before[1] ?? "false");
          }
        });
      });
      return button;
    };
    const up = make(true);
    const down = make(false);
    box.append(up, down, status);
    this.node.append(box);
  }

  /** Mark the answer failed; `retry` (when given) adds a "Try again" button. */
  failed(message: string, retry?: () => void): void {
    this.node.removeAttribute("aria-busy");
    this.node.classList.add("error");
    if (!this.body.textContent?.trim()) this.body.replaceChildren();
    this.body.append(el("p", "", message));
    if (retry) {
      const button = el("button", "retry", this.t.retry);
      button.type = "button";
      button.addEventListener("click", () => {
        this.node.classList.remove("error");
        retry();
      });
      this.body.append(button);
    }
  }
}

export class View {
  readonly host = el("div");
  readonly bubble = el("button", "bubble");
  readonly panel = el("section", "panel");
  readonly title = el("h2");
  readonly closeButton = el("button", "close");
  /** "New conversation" (in the header), the unread count on the bubble, Stop while answering. */
  readonly newButton = el("button", "new");
  readonly badge = el("span", "badge");
  readonly stop = el("button", "stop");
  readonly log = el("div", "log");
  readonly form = el("form", "composer");
  readonly input = el("textarea");
  readonly send = el("button", "send");
  /** Human handoff: who answers, "Talk to a person", and a guest's email for the reply. */
  readonly handoff = el("div", "handoff");
  readonly handoffText = el("p", "handoff-text");
  readonly talk = el("button", "talk");
  readonly emailForm = el("form", "handoff-email");
  readonly email = el("input");
  /** "Create an account to keep this conversation": shown once a guest has one. */
  readonly keep = el("a", "keep");
  private notice: HTMLElement | null = null;
  private pinned = true;
  /** Where our last scroll to the end left the log (see the scroll listener). */
  private autoTop = -1;
  /** Origins images in answers may load from besides the server's (the widget's config). */
  imageOrigins: readonly string[] = [];

  constructor(
    private readonly t: Strings,
    readonly base: string,
    lang: string,
  ) {
    this.host.setAttribute("data-helpline-widget", "");
    const root = this.host.attachShadow({ mode: "open" });
    styles(root);
    const wrap = el("div", "hl");
    wrap.lang = lang;

    this.bubble.type = "button";
    this.bubble.append(icon(CHAT_ICON));
    this.bubble.setAttribute("aria-label", t.open);
    this.bubble.setAttribute("aria-expanded", "false");
    this.bubble.setAttribute("aria-controls", "hl-panel");
    this.badge.hidden = true;
    this.badge.setAttribute("aria-hidden", "true"); // the bubble's label says it
    this.bubble.append(this.badge);

    this.panel.id = "hl-panel";
    this.panel.hidden = true;
    this.panel.setAttribute("role", "dialog");
    const head = el("div", "head");
    this.closeButton.type = "button";
    this.closeButton.append(icon(CLOSE_ICON));
    this.closeButton.setAttribute("aria-label", t.close);
    this.newButton.type = "button";
    this.newButton.append(icon(NEW_ICON));
    this.newButton.setAttribute("aria-label", t.newChat);
    this.newButton.title = t.newChat;
    this.newButton.hidden = true;
    head.append(this.title, this.newButton, this.closeButton);

    this.log.setAttribute("role", "log");
    this.log.setAttribute("aria-live", "polite");
    this.log.tabIndex = 0; // scrollable with the keyboard
    // Following the newest words unless the reader scrolled up (measured when they scroll, not
    // after new content grew the log: a tall list of sources must not end the following).
    this.log.addEventListener("scroll", () => {
      // Our own scroll to the end (its event comes later, maybe after more words grew the log)
      // changes nothing; the reader's scroll decides whether to keep following.
      if (Math.abs(this.log.scrollTop - this.autoTop) < 2) return;
      this.pinned = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 48;
    });
    // The log shrinks when a bar shows under it (handoff, the account offer, a taller composer):
    // the newest lines stay in view.
    if (typeof ResizeObserver === "function") new ResizeObserver(() => this.follow()).observe(this.log);
    this.log.setAttribute("aria-label", t.title);

    const label = el("label", "sr-only", t.message);
    label.htmlFor = "hl-input";
    this.input.id = "hl-input";
    this.input.rows = 1;
    this.input.placeholder = t.placeholder;
    this.input.maxLength = 4000;
    this.send.type = "submit";
    this.send.textContent = t.send;
    this.stop.type = "button";
    this.stop.textContent = t.stop;
    this.stop.hidden = true;
    this.form.append(label, this.input, this.send, this.stop);

    this.talk.type = "button";
    this.talk.textContent = t.talk;
    const emailLabel = el("label", "", t.emailAsk);
    emailLabel.htmlFor = "hl-email";
    this.email.id = "hl-email";
    this.email.type = "email";
    this.email.required = true;
    this.email.autocomplete = "email";
    this.email.placeholder = t.emailLabel;
    const emailSave = el("button", "", t.emailSave);
    emailSave.type = "submit";
    this.emailForm.append(emailLabel, this.email, emailSave);
    this.emailForm.hidden = true;
    this.handoff.append(this.handoffText, this.talk, this.emailForm);
    this.handoff.hidden = true;

    // The plain sign-up page; a click opens it with a one-time code instead (Widget.keep).
    this.keep.href = `${base}/register`;
    this.keep.target = "_blank";
    this.keep.rel = "noopener";
    this.keep.textContent = t.keep;
    this.keep.hidden = true;

    this.panel.append(head, this.log, this.handoff, this.form, this.keep);
    wrap.append(this.panel, this.bubble);
    root.append(wrap);
  }

  setTheme(title: string, colors: Palette): void {
    this.title.textContent = title;
    this.panel.setAttribute("aria-label", title);
    this.log.setAttribute("aria-label", title);
    const wrap = this.panel.parentElement as HTMLElement;
    wrap.style.setProperty("--accent", colors.accent);
    wrap.style.setProperty("--on-accent", colors.onAccent);
    wrap.style.setProperty("--link-light", colors.link);
    wrap.style.setProperty("--link-dark", colors.linkDark);
  }

  /** Light or dark (theme.ts decides which). */
  setDark(dark: boolean): void {
    (this.panel.parentElement as HTMLElement).classList.toggle("dark", dark);
  }

  setOpen(open: boolean): void {
    this.panel.hidden = !open;
    this.bubble.hidden = open;
    this.bubble.setAttribute("aria-expanded", String(open));
    this.modal(open && this.fullScreen());
  }

  /** On a phone the open panel covers the page: a modal dialog, which keeps the focus inside. */
  fullScreen(): boolean {
    return typeof matchMedia === "function" && matchMedia("(max-width: 480px)").matches;
  }

  modal(on: boolean): void {
    if (on) this.panel.setAttribute("aria-modal", "true");
    else this.panel.removeAttribute("aria-modal");
  }

  /** The panel's controls a Tab can reach now, in order. */
  focusables(): HTMLElement[] {
    const all = this.panel.querySelectorAll<HTMLElement>("button, a[href], textarea, input, [tabindex]");
    return [...all].filter((e) => !e.closest("[hidden]") && !(e as HTMLButtonElement).disabled && e.tabIndex >= 0);
  }

  /** The element with the focus inside the widget (null when the focus is on the page). */
  focused(): Element | null {
    return this.root().activeElement;
  }

  /** Show or hide the offer of an account that adopts this guest's conversation. */
  offerAccount(show: boolean): void {
    this.keep.hidden = !show;
  }

  composer(enabled: boolean): void {
    this.form.hidden = !enabled;
    this.panel.classList.toggle("compact", !enabled);
  }

  /** While answering: Send is disabled and Stop shows beside it (once `stoppable`). */
  busy(busy: boolean, stoppable = false): void {
    this.send.disabled = busy;
    const hadFocus = this.root().activeElement === this.stop;
    this.stop.hidden = !(busy && stoppable);
    this.send.hidden = busy && stoppable;
    if (hadFocus && this.stop.hidden) this.input.focus();
  }

  /** Answers arrived while the panel was closed: a count on the bubble (0 hides it). */
  setUnread(count: number): void {
    this.badge.hidden = count === 0;
    this.badge.textContent = count > 9 ? "9+" : String(count);
    this.bubble.setAttribute("aria-label", count ? fill(this.t.openUnread, { count }) : this.t.open);
    this.bubble.classList.toggle("unread", count > 0);
  }

  private root(): ShadowRoot {
    return this.host.shadowRoot as ShadowRoot;
  }

  private scroll(): void {
    this.log.scrollTop = this.log.scrollHeight;
    this.autoTop = this.log.scrollTop;
    this.pinned = true;
  }

  clear(): void {
    this.log.replaceChildren();
    this.notice = null;
    this.pinned = true;
  }

  greeting(text: string): void {
    if (!text) return;
    const msg = new BotMessage(this.t, this.base, this.imageOrigins);
    msg.text(text);
    msg.node.classList.add("greeting");
    this.log.append(msg.node);
  }

  user(text: string): HTMLElement {
    const node = el("div", "msg user");
    node.append(el("span", "sr-only", this.t.you), document.createTextNode(text));
    this.log.append(node);
    this.scroll();
    return node;
  }

  bot(): BotMessage {
    const msg = new BotMessage(this.t, this.base, this.imageOrigins);
    this.log.append(msg.node);
    this.scroll();
    return msg;
  }

  /** A person's reply. */
  agent(name: string, text: string): HTMLElement {
    const node = el("div", "msg bot agent");
    node.append(el("span", "agent-name", fill(this.t.agent, { name })), el("div", "body", text));
    this.log.append(node);
    this.scroll();
    return node;
  }

  /** A change of hands, as a line in the log. */
  handoffNotice(text: string): void {
    this.log.append(el("p", "handoff-notice", text));
    this.scroll();
  }

  /** The handoff bar: `text` (null hides it), the "Talk to a person" button, the email form. */
  setHandoff(text: string | null, talk: boolean, askEmail: boolean): void {
    this.handoff.hidden = text === null && !talk;
    this.handoffText.textContent = text ?? "";
    this.handoffText.hidden = text === null;
    this.talk.hidden = !talk;
    this.emailForm.hidden = !askEmail;
  }

  follow(): void {
    // Keep the newest words (and an answer's sources) in view unless the reader scrolled up.
    if (this.pinned) this.scroll();
  }

  /** A notice at the end of the log (replacing the previous one), with an optional link inside
   * its text and an optional button after it; null removes it. */
  say(text: string | null, link?: { href: string; label: string }, action?: { label: string; run(): void }): void {
    this.notice?.remove();
    this.notice = null;
    if (text === null) return;
    const p = el("p", "notice");
    if (link) {
      const [before, after] = text.split(link.label) as [string, string | undefined];
      const a = el("a", "", link.label);
      a.href = link.href;
      a.target = "_blank";
      a.rel = "noopener";
      p.append(before, a, after ?? "");
    } else {
      p.textContent = text;
    }
    if (action) {
      const button = el("button", "retry", action.label);
      button.type = "button";
      button.addEventListener("click", () => action.run());
      p.append(el("br"), button);
    }
    this.notice = p;
    this.log.append(p);
    this.scroll();
  }
}
