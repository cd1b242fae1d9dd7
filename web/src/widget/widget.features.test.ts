// The widget's conveniences: unread badge, thumbs, stop, new conversation, contact us.
import { HelplineClient, type WidgetConfig } from "./api";
import { strings } from "./i18n";
import { Widget } from "./widget";

const BASE = "https://help.example";
const CONFIG: WidgetConfig = { enabled: true, guests_allowed: true, title: "Shop help", greeting: "Hello there!", accent_color: "#0f766e" };

type Call = { url: string; method: string; body: unknown };
type Route = (call: Call) => Response | Promise<Response>;
let calls: Call[];

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

function sse(events: [string, Record<string, unknown>][], messageId = 11): string {
  return events
    .map(([kind, data], i) => `event: ${kind}\nid: ${messageId}:${i + 1}\ndata: ${JSON.stringify({ message_id: messageId, conversation_id: 5, ...data })}\n\n`)
    .join("");
}

const FINAL = { message_id: 11, content: "Hi **you**", status: "sent", error: null, sources: [{ id: 1, question: "Returns?", slug: "returns", score: 1 }] };

function serve(routes: Record<string, Route | Route[]>): void {
  calls = [];
  vi.stubGlobal("fetch", async (url: string, init: RequestInit = {}) => {
    const call = { url, method: init.method ?? "GET", body: init.body ? JSON.parse(init.body as string) : null };
    calls.push(call);
    const key = `${call.method} ${new URL(url).pathname}`;
    const route = routes[key];
    const handler = Array.isArray(route) ? route.shift() : route;
    if (!handler) throw new TypeError(`no route for ${key}`);
    return handler(call);
  });
}

const guest = () => json(201, { access_token: "g1", refresh_token: "r-g1", expires_in: 900, refresh_expires_in: 3600, user: {} });
const streamOk = () => new Response(sse([["typing", {}], ["token", { content: "Hi " }], ["response", FINAL]]));

function mount(): Widget {
  const widget = new Widget(new HelplineClient(BASE, null, "en"), strings("en"), CONFIG);
  document.body.appendChild(widget.view.host);
  return widget;
}

async function ask(widget: Widget, text: string): Promise<void> {
  widget.view.input.value = text;
  widget.view.form.requestSubmit();
  await vi.waitFor(() => expect(widget.view.send.disabled).toBe(false));
}

beforeEach(() => {
  localStorage.clear();
  document.body.replaceChildren();
});
afterEach(() => vi.unstubAllGlobals());

describe("Widget conveniences", () => {
  it("counts an answer that arrives while closed on the bubble, until opened", async () => {
    serve({ "POST /api/v1/auth/guest": guest, "POST /api/v1/chat/stream": streamOk });
    const widget = mount();
    widget.open();
    widget.view.input.value = "Hello?";
    widget.view.form.requestSubmit();
    widget.close();
    await vi.waitFor(() => expect(widget.view.badge.hidden).toBe(false));
    expect(widget.view.badge.textContent).toBe("1");
    expect(widget.view.bubble.getAttribute("aria-label")).toBe("Open chat, 1 new");
    widget.open();
    expect(widget.view.badge.hidden).toBe(true);
    expect(widget.view.bubble.getAttribute("aria-label")).toBe("Open chat");
  });

  it("sends thumbs up or down for an answer, shown pressed", async () => {
    serve({
      "POST /api/v1/auth/guest": guest,
      "POST /api/v1/chat/stream": streamOk,
      "POST /api/v1/messages/11/feedback": (c) => json(200, { message_id: 11, helpful: (c.body as { helpful: boolean }).helpful, comment: null, created_at: "", offer_handoff: true }),
    });
    const widget = mount();
    widget.open();
    await ask(widget, "Hello?");
    const down = widget.view.log.querySelector<HTMLButtonElement>("button.thumb.down");
    expect(down?.getAttribute("aria-label")).toBe("Not helpful");
    down?.click();
    await vi.waitFor(() => expect(widget.view.log.textContent).toContain("Thanks for your feedback."));
    expect(down?.getAttribute("aria-pressed")).toBe("true");
    expect(calls.find((c) => c.url.endsWith("/feedback"))?.body).toEqual({ helpful: false });
    // "Not helpful" and the server offers a person: the "Talk to a person" button shows.
    expect(widget.view.talk.hidden).toBe(false);
  });

  it("stops an answer: Stop shows while it is written, the stored part stays marked stopped", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    serve({
      "POST /api/v1/auth/guest": guest,
      "POST /api/v1/chat/stream": () => {
        const encoder = new TextEncoder();
        const body = new ReadableStream({
          async start(controller) {
            controller.enqueue(encoder.encode(sse([["token", { content: "Half an" }]])));
            await gate;
            controller.enqueue(encoder.encode(sse([["response", { ...FINAL, content: "Half an", stopped: true, sources: [] }]])));
            controller.close();
          },
        });
        return new Response(body);
      },
      "POST /api/v1/chat/messages/11/stop": () => {
        release();
        return json(200, { ...FINAL, content: "Half an", stopped: true });
      },
    });
    const widget = mount();
    widget.open();
    widget.view.input.value = "Tell me everything";
    widget.view.form.requestSubmit();
    await vi.waitFor(() => expect(widget.view.stop.hidden).toBe(false));
    expect(widget.view.send.hidden).toBe(true);
    widget.view.stop.click();
    await vi.waitFor(() => expect(widget.view.log.textContent).toContain("Stopped. The answer may be incomplete."));
    expect(widget.view.stop.hidden).toBe(true);
    expect(widget.view.send.hidden).toBe(false);
    expect(widget.view.log.querySelector(".stopped-note .retry")).not.toBeNull();
  });

  it("starts a new conversation on request", async () => {
    serve({ "POST /api/v1/auth/guest": guest, "POST /api/v1/chat/stream": [streamOk, streamOk] });
    const widget = mount();
    widget.open();
    expect(widget.view.newButton.hidden).toBe(true); // nothing to start afresh from yet
    await ask(widget, "Hello?");
    expect(widget.view.newButton.hidden).toBe(false);
    widget.view.newButton.click();
    await vi.waitFor(() => expect(widget.view.log.querySelectorAll(".msg.user")).toHaveLength(0));
    expect(widget.view.log.textContent).toContain("Hello there!");
    await ask(widget, "Another thing");
    const streams = calls.filter((c) => c.url.endsWith("/chat/stream"));
    expect((streams[1]?.body as { conversation_id: unknown }).conversation_id).toBeNull();
  });

  it("contact() asks for a person, as the conversation's first message when there is none", async () => {
    serve({
      "POST /api/v1/auth/guest": guest,
      "POST /api/v1/chat/stream": () =>
        new Response(sse([["response", { ...FINAL, content: "", sources: [], handoff: { status: "waiting_for_agent", expectation: null } }]])),
    });
    const widget = mount();
    widget.contact("my package never arrived");
    await vi.waitFor(() => expect(calls.some((c) => c.url.endsWith("/chat/stream"))).toBe(true));
    const sent = calls.find((c) => c.url.endsWith("/chat/stream"))?.body as { message: string };
    expect(sent.message).toBe("I would like to talk to a person about: my package never arrived");
    await vi.waitFor(() => expect(widget.view.handoffText.textContent).toContain("Waiting for a person."));
  });
});
