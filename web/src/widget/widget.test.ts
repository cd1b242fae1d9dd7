import { HelplineClient, type WidgetConfig } from "./api";
import { strings } from "./i18n";
import { BotMessage } from "./view";
import { Widget } from "./widget";

const BASE = "https://help.example";
const CONFIG: WidgetConfig = {
  enabled: true,
  guests_allowed: true,
  title: "Shop help",
  greeting: "Hello there!",
  accent_color: "#0f766e",
};

type Call = { url: string; method: string; headers: Headers; body: unknown };
type Route = (call: Call) => Response | Promise<Response>;

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

function sse(events: [string, Record<string, unknown>][], first = 1, messageId = 11): string {
  return events
    .map(([kind, data], i) => {
      const payload = { message_id: messageId, conversation_id: 5, ...data };
      return `event: ${kind}\nid: ${messageId}:${first + i}\ndata: ${JSON.stringify(payload)}\n\n`;
    })
    .join("");
}

const FINAL = { content: "Hi **you**", status: "sent", error: null, sources: [{ id: 1, question: "Returns?", slug: "returns", score: 1 }] };
let calls: Call[];

function serve(routes: Record<string, Route | Route[]>): void {
  calls = [];
  vi.stubGlobal("fetch", async (url: string, init: RequestInit = {}) => {
    const call = {
      url,
      method: init.method ?? "GET",
      headers: new Headers(init.headers),
      body: init.body ? JSON.parse(init.body as string) : null,
    };
    calls.push(call);
    const key = `${call.method} ${new URL(url).pathname}`;
    const route = routes[key];
    const handler = Array.isArray(route) ? route.shift() : route;
    if (!handler) throw new TypeError(`no route for ${key}`);
    return handler(call);
  });
}

const guest = (token: string) => () => json(201, { access_token: token, refresh_token: `r-${token}`, expires_in: 900, refresh_expires_in: 3600, user: {} });
const streamOk = () => new Response(sse([["typing", {}], ["token", { content: "Hi " }], ["token", { content: "**you**" }], ["response", FINAL]]));

function mount(config: WidgetConfig | null = CONFIG): Widget {
  const widget = new Widget(new HelplineClient(BASE, "key", "en"), strings("en"), config);
  document.body.appendChild(widget.view.host);
  return widget;
}

async function ask(widget: Widget, text: string): Promise<void> {
  widget.view.input.value = text;
  widget.view.form.requestSubmit();
  await vi.waitFor(() => expect(widget.view.send.disabled).toBe(false));
}

const log = (widget: Widget) => widget.view.log.textContent ?? "";

beforeEach(() => {
  localStorage.clear();
  document.body.replaceChildren();
});

describe("Widget", () => {
  it("answers as a new guest and keeps the conversation for the next page load", async () => {
    serve({ "POST /api/v1/auth/guest": guest("g1"), "POST /api/v1/chat/stream": streamOk });
    const widget = mount();
    widget.open();
    expect(widget.view.bubble.getAttribute("aria-expanded")).toBe("true");
    await ask(widget, "Hello?");
    expect(log(widget)).toContain("Hi you");
    const link = widget.view.log.querySelector("a");
    expect(link?.href).toBe(`${BASE}/help/returns`);
    expect(calls[1]?.headers.get("Authorization")).toBe("Bearer g1");
    expect(calls[1]?.body).toEqual({ message: "Hello?", conversation_id: null, language: "en", client_id: expect.any(String) });

    serve({
      "GET /api/v1/conversations/5": () =>
        json(200, {
          messages: [
            { message_type: "user", content: "Hello?", status: "sent", metadata: null },
            { message_type: "assistant", content: "Hi **you**", status: "sent", metadata: { sources: FINAL.sources } },
          ],
        }),
    });
    const again = mount();
    again.open();
    await vi.waitFor(() => expect(log(again)).toContain("Hi you"));
    expect(again.view.log.querySelectorAll(".msg.user")).toHaveLength(1);
    expect(again.view.log.querySelector("a")?.textContent).toContain("Returns?");
  });

  it("opens the sign-up page with a one-time code, never the guest's tokens (pentest #18)", async () => {
    serve({ "POST /api/v1/auth/guest": guest("g1"), "POST /api/v1/chat/stream": streamOk });
    const widget = mount();
    widget.open();
    await ask(widget, "Hello?");
    const keep = widget.view.keep;
    expect(keep.hidden).toBe(false);
    expect(keep.getAttribute("href")).toBe(`${BASE}/register`);

    serve({ "POST /api/v1/auth/guest/handoff": () => json(201, { code: "one-time", expires_in: 300 }) });
    const tab = { opener: {} as unknown, location: { href: "" } };
    const open = vi.fn(() => tab);
    vi.stubGlobal("open", open);
    keep.click();
    await vi.waitFor(() => expect(tab.location.href).toBe(`${BASE}/register#handoff=one-time`));
    expect(open).toHaveBeenCalledWith("", "_blank"); // within the click, before the code is fetched
    expect(tab.opener).toBeNull();
    expect(calls[0]?.headers.get("Authorization")).toBe("Bearer g1");
    expect(tab.location.href).not.toContain("r-g1");

    // No code to be had (the guest session is over): the plain sign-up page.
    serve({ "POST /api/v1/auth/guest/handoff": () => json(403, {}) });
    keep.click();
    await vi.waitFor(() => expect(tab.location.href).toBe(`${BASE}/register`));
    vi.unstubAllGlobals();
  });

  it("refreshes an expired token once, then starts a new guest without the old conversation", async () => {
    localStorage.setItem(`helpline-widget:${BASE}`, JSON.stringify({ access_token: "old", refresh_token: "r-old", conversation_id: 9 }));
    serve({
      "GET /api/v1/conversations/9": [() => json(401, {}), () => json(404, {})],
      "POST /api/v1/auth/refresh": [guest("fresh"), () => json(401, {})],
      "POST /api/v1/chat/stream": [() => json(401, {}), streamOk],
      "POST /api/v1/auth/guest": guest("g2"),
    });
    const widget = mount();
    widget.open();
    await vi.waitFor(() => expect(calls.filter((c) => c.url.includes("/conversations/9"))).toHaveLength(2));
    await ask(widget, "Still there?");
    expect(log(widget)).toContain("Hi you");
    const streams = calls.filter((c) => c.url.endsWith("/chat/stream"));
    expect(streams.map((c) => c.headers.get("Authorization"))).toEqual(["Bearer fresh", "Bearer g2"]);
    expect((streams[1]?.body as { conversation_id: unknown }).conversation_id).toBeNull();
  });

  it("gives the message back and says how long to wait when rate limited", async () => {
    serve({ "POST /api/v1/auth/guest": () => json(429, { detail: "Too many" }, { "Retry-After": "30" }) });
    const widget = mount();
    widget.open();
    await ask(widget, "Please help");
    expect(widget.view.input.value).toBe("Please help");
    expect(widget.view.log.querySelectorAll(".msg.user")).toHaveLength(0);
    expect(log(widget)).toContain("wait 30 seconds");
  });

  it("sends a message again with its client_id after a dropped send, and a new one for the next", async () => {
    serve({
      "POST /api/v1/auth/guest": guest("g1"),
      "POST /api/v1/chat/stream": [() => Promise.reject(new TypeError("network down")), streamOk, streamOk],
    });
    const widget = mount();
    widget.open();
    await ask(widget, "Where is my parcel?");
    expect(log(widget)).not.toContain("Hi you");
    await ask(widget, "Where is my parcel?");
    expect(log(widget)).toContain("Hi you");
    await ask(widget, "Thanks");
    const ids = calls.filter((c) => c.url.endsWith("/chat/stream")).map((c) => (c.body as { client_id: string }).client_id);
    expect(ids).toHaveLength(3);
    expect(ids[0]).toMatch(/^[0-9a-f-]{32,36}$/);
    expect(ids[1]).toBe(ids[0]);
    expect(ids[2]).not.toBe(ids[0]);
  });

  it("asks the visitor to sign in when guests are not allowed", async () => {
    serve({ "POST /api/v1/auth/guest": () => json(403, { detail: "no guests" }) });
    const widget = mount();
    widget.open();
    await ask(widget, "Hi");
    expect(log(widget)).toContain("Sign in on help.example to chat.");
    expect(widget.view.log.querySelector("a")?.href).toBe(`${BASE}/login`);
    expect(widget.view.form.hidden).toBe(true);
  });

  it("re-attaches to the same answer after the stream drops, without repeating words", async () => {
    let pulls = 0;
    const dropped = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulls++ === 0) controller.enqueue(new TextEncoder().encode(sse([["typing", {}], ["token", { content: "Hi " }]])));
        else controller.error(new TypeError("network"));
      },
    });
    serve({
      "POST /api/v1/auth/guest": guest("g1"),
      "POST /api/v1/chat/stream": () => new Response(dropped),
      "GET /api/v1/chat/stream/11": () => new Response(sse([["token", { content: "**you**" }], ["response", FINAL]], 3)),
    });
    const widget = mount();
    widget.open();
    await ask(widget, "Hello?");
    const resumed = calls.filter((c) => c.url.endsWith("/api/v1/chat/stream/11")).at(-1);
    expect(resumed?.headers.get("Last-Event-ID")).toBe("11:2");
    expect(widget.view.log.querySelector(".msg.bot:last-of-type")?.textContent).toContain("Hi you");
  });

  it("replaces an answer the server rejected, and lists the closest articles with I don't know", async () => {
    const DONT_KNOW = "I'm sorry, I don't know the answer to that.";
    const related = [{ id: 2, question: "Lost parcel?", slug: "lost-parcel", score: 0.4 }];
    serve({
      "POST /api/v1/auth/guest": guest("g1"),
      "POST /api/v1/chat/stream": () =>
        new Response(
          sse([
            ["typing", {}],
            ["token", { content: "Call us at " }],
            ["token", { content: "1-800-463-3339" }],
            ["replace", { content: DONT_KNOW, reason: "unsupported_fact" }],
            ["response", { content: DONT_KNOW, status: "sent", error: null, sources: [], related, guard: { action: "dont_know", reason: "unsupported_fact" } }],
          ]),
        ),
    });
    const widget = mount();
    widget.open();
    const shown = vi.spyOn(BotMessage.prototype, "text");
    await ask(widget, "Whom do I call?");
    // What the visitor saw: the words as they came, then the replacement in their place.
    expect(shown.mock.calls.map(([text]) => text)).toEqual(["Call us at ", "Call us at 1-800-463-3339", DONT_KNOW, DONT_KNOW]);
    shown.mockRestore();
    const answer = widget.view.log.querySelector(".msg.bot:last-of-type")!;
    expect(answer.querySelector(".body")?.textContent).toBe(DONT_KNOW);
    expect(answer.querySelector(".sources h3")?.textContent).toBe("Closest articles");
    expect(answer.querySelector<HTMLAnchorElement>(".sources a")?.href).toBe(`${BASE}/help/lost-parcel`);

    // The same from the stored history, on the next page load.
    serve({
      "GET /api/v1/conversations/5": () =>
        json(200, {
          messages: [
            { message_type: "user", content: "Whom do I call?", status: "sent", metadata: null },
            { message_type: "assistant", content: DONT_KNOW, status: "sent", metadata: { related, guard: { action: "dont_know" } } },
          ],
        }),
    });
    const again = mount();
    again.open();
    await vi.waitFor(() => expect(log(again)).toContain(DONT_KNOW));
    expect(again.view.log.querySelector(".sources h3")?.textContent).toBe("Closest articles");
    expect(again.view.log.querySelector<HTMLAnchorElement>(".sources a")?.href).toBe(`${BASE}/help/lost-parcel`);
  });

  it("after a reload mid-answer, follows the answer still being written", async () => {
    localStorage.setItem(`helpline-widget:${BASE}`, JSON.stringify({ access_token: "a", refresh_token: "r", conversation_id: 5 }));
    serve({
      "GET /api/v1/conversations/5": () =>
        json(200, {
          messages: [
            { message_type: "user", content: "Hello?", status: "sent", metadata: null },
            { id: 11, message_type: "assistant", content: "Hi", status: "streaming", metadata: null },
          ],
        }),
      "GET /api/v1/chat/stream/11": streamOk,
    });
    const widget = mount();
    widget.open();
    await vi.waitFor(() => expect(log(widget)).toContain("Returns?"));
    expect(log(widget)).toContain("Hi you");
    expect(calls.at(-1)?.headers.get("Last-Event-ID")).toBeNull();
  });

  it("tries the server again from the unavailable notice", async () => {
    serve({ "GET /api/v1/widget/config": [() => Promise.reject(new TypeError("down")), () => json(200, CONFIG)] });
    const widget = mount(null);
    widget.open();
    const retry = () => widget.view.log.querySelector<HTMLButtonElement>(".notice button");
    retry()?.click();
    await vi.waitFor(() => expect(log(widget)).toContain("Chat is unavailable right now"));
    expect(widget.view.form.hidden).toBe(true);
    retry()?.click();
    await vi.waitFor(() => expect(widget.view.form.hidden).toBe(false));
    expect(log(widget)).toContain("Hello there!");
    expect(widget.view.title.textContent).toBe("Shop help");
  });

  it("says chat is unavailable when the server could not be reached, and Escape closes", () => {
    const widget = mount(null);
    widget.open();
    expect(log(widget)).toContain("Chat is unavailable right now");
    expect(widget.view.form.hidden).toBe(true);
    widget.view.panel.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(widget.isOpen).toBe(false);
    expect(widget.view.host.shadowRoot?.activeElement).toBe(widget.view.bubble);
  });
});
