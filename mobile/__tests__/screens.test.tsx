import { act, fireEvent, render, screen, waitFor } from "@testing-library/react-native";
import { Screens } from "../App";
import { AppProvider, type User } from "../src/app";
import { session } from "../src/auth/session";
import { Outbox, type Sender } from "../src/chat/outbox";
import { I18nProvider } from "../src/i18n";
import { answer, jsonResponse, MemoryStore, sse } from "./helpers";
import { fakeApi } from "./fakeApi";
import { saveAndShare } from "../src/download";

jest.mock("../src/download", () => ({ saveAndShare: jest.fn(async () => "file:///documents/export.zip") }));

const USER: User = {
  id: 1,
  email: "ada@example.com",
  username: "ada",
  first_name: null,
  last_name: null,
  role: "user",
  status: "active",
  avatar_url: null,
  language: "en",
  timezone: "UTC",
  gdpr_consent: true,
  data_processing_consent: true,
  marketing_consent: false,
  created_at: "2026-12-07T10:00:00Z",
  updated_at: null,
  last_login: null,
  is_guest: false,
  email_verified: true,
} as User;

const TOKENS = { access_token: "acc", refresh_token: "ref", expires_in: 900, refresh_expires_in: 86400, token_type: "bearer" };

function conversation(id: number, messages: unknown[] = [], title = "Parcel question") {
  return {
    id,
    title,
    language: "en",
    tags: null,
    message_count: messages.length,
    total_tokens: 0,
    duration_seconds: 0,
    is_active: true,
    is_archived: false,
    created_at: "2026-12-07T10:00:00Z",
    updated_at: null,
    last_message_at: "2026-12-07T10:00:00Z",
    messages,
    messages_next_cursor: null,
  };
}

function stored(id: number, type: "user" | "assistant", content: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    conversation_id: 7,
    message_type: type,
    content,
    status: "sent",
    tokens_used: 1,
    model_used: null,
    response_time_ms: null,
    metadata: null,
    created_at: "2026-12-07T10:00:00Z",
    feedback: null,
    ...extra,
  };
}

function renderApp(opts: { user?: User | null; outbox?: Outbox } = {}) {
  return render(
    <I18nProvider initial="en">
      <AppProvider initialUser={opts.user ?? null} outbox={opts.outbox}>
        <Screens />
      </AppProvider>
    </I18nProvider>,
  );
}

let api: ReturnType<typeof fakeApi> | null = null;
afterEach(async () => {
  api?.restore();
  api = null;
  await session.clear();
});

beforeEach(async () => {
  await session.setServer("http://api.test");
});

test("login: signs in with the server chosen and shows the conversations", async () => {
  api = fakeApi({
    "POST /api/v1/auth/login": () => jsonResponse(200, { ...TOKENS, user: USER }),
    "GET /api/v1/conversations": () => jsonResponse(200, { items: [], next_cursor: null }),
  });
  await renderApp();
  await fireEvent.changeText(screen.getByLabelText("Server"), "192.168.1.20:8000/");
  await fireEvent.changeText(screen.getByLabelText("Email or username"), " ada@example.com ");
  await fireEvent.changeText(screen.getByLabelText("Password"), "a long passphrase");
  await fireEvent.press(screen.getByRole("button", { name: "Sign in" }));
  expect(await screen.findByText("No conversations yet. Ask your first question.")).toBeTruthy();
  expect(api.calls[0]).toMatchObject({
    method: "POST",
    path: "/api/v1/auth/login",
    body: { login: "ada@example.com", password: "a long passphrase" },
  });
  expect(session.baseUrl()).toBe("http://192.168.1.20:8000");
  expect(session.get()).toEqual({ access_token: "acc", refresh_token: "ref" });
  expect(api.calls[1]!.headers.get("Authorization")).toBe("Bearer acc");
});

test("login: the API's refusal is shown", async () => {
  api = fakeApi({ "POST /api/v1/auth/login": () => jsonResponse(401, { error: "unauthorized", detail: "Wrong email or password" }) });
  await renderApp();
  await fireEvent.changeText(screen.getByLabelText("Email or username"), "ada@example.com");
  await fireEvent.changeText(screen.getByLabelText("Password"), "nope nope");
  await fireEvent.press(screen.getByRole("button", { name: "Sign in" }));
  expect(await screen.findByRole("alert")).toHaveTextContent("Wrong email or password");
});

test("register: the processing consent is required; the consents are sent as given", async () => {
  api = fakeApi({ "POST /api/v1/auth/register": () => jsonResponse(202, { status: "accepted" }) });
  await renderApp();
  await fireEvent.press(screen.getByRole("button", { name: "Create an account" }));
  await fireEvent.changeText(screen.getByLabelText("Email"), "ada@example.com");
  await fireEvent.changeText(screen.getByLabelText("Password"), "a long passphrase");
  await fireEvent.press(screen.getByRole("button", { name: "Register" }));
  expect(await screen.findByRole("alert")).toHaveTextContent(/Agree to the processing of your data/);
  expect(api.calls).toHaveLength(0);

  await fireEvent(screen.getByLabelText(/I agree to the processing of my data/), "valueChange", true);
  await fireEvent(screen.getByLabelText("Send me news by email (optional)"), "valueChange", true);
  await fireEvent.press(screen.getByRole("button", { name: "Register" }));
  expect(await screen.findByText("Account created. Sign in with your email and password.")).toBeTruthy();
  expect(api.calls[0]!.body).toMatchObject({
    email: "ada@example.com",
    data_processing_consent: true,
    gdpr_consent: false,
    marketing_consent: true,
    language: "en",
  });
});

test("chat: the answer streams in, then the stored conversation with sources and feedback", async () => {
  await session.set(TOKENS);
  let release: () => void = () => undefined;
  const send: Sender = async (body, handlers) => {
    handlers.onAccepted?.({ message_id: 12, conversation_id: 7, user_message_id: 11 });
    handlers.onToken?.("Track it ");
    await new Promise<void>((r) => (release = r));
    handlers.onToken?.("on the site.");
    return answer(12, "Track it on the site.");
  };
  const outbox = new Outbox({ store: new MemoryStore(), send });
  const source = { id: 3, question: "How can I track my parcel?", slug: "track", score: 0.9, n: 1 };
  let conv = conversation(7, []);
  api = fakeApi({
    "GET /api/v1/conversations": () => jsonResponse(200, { items: [], next_cursor: null }),
    "GET /api/v1/conversations/7": () => jsonResponse(200, conv),
    "POST /api/v1/messages/12/feedback": () =>
      jsonResponse(200, { message_id: 12, helpful: true, comment: null, created_at: "x", offer_handoff: false }),
  });
  await renderApp({ user: USER, outbox });
  await fireEvent.press(await screen.findByRole("button", { name: "New chat" }));
  await fireEvent.changeText(screen.getByLabelText("Message"), "Where is my parcel?");
  await fireEvent.press(screen.getByRole("button", { name: "Send" }));

  expect(await screen.findByText("Track it")).toBeTruthy();
  expect(screen.getByText("Where is my parcel?")).toBeTruthy();
  expect(screen.getByRole("button", { name: "Stop" })).toBeTruthy();

  conv = conversation(7, [
    stored(11, "user", "Where is my parcel?"),
    stored(12, "assistant", "Track it on the site. [1]", { metadata: { sources: [source] } }),
  ]);
  await act(async () => release());
  expect(await screen.findByText("Track it on the site. [1]")).toBeTruthy();
  expect(screen.getByRole("link", { name: "How can I track my parcel?" })).toBeTruthy();
  await fireEvent.press(screen.getByRole("button", { name: "Helpful" }));
  await waitFor(() => expect(api!.calls.some((c) => c.path === "/api/v1/messages/12/feedback")).toBe(true));
  expect(api.calls.find((c) => c.path === "/api/v1/messages/12/feedback")!.body).toEqual({ helpful: true });
});

test("chat offline: the message waits in the outbox, shown as waiting", async () => {
  await session.set(TOKENS);
  const send = jest.fn<ReturnType<Sender>, Parameters<Sender>>();
  const outbox = new Outbox({ store: new MemoryStore(), send });
  api = fakeApi({
    "GET /api/v1/conversations/7": () => jsonResponse(200, conversation(7, [stored(5, "user", "Earlier")])),
    "GET /api/v1/conversations": () => jsonResponse(200, { items: [conversation(7)], next_cursor: null }),
  });
  await renderApp({ user: USER, outbox });
  await act(() => outbox.setOnline(false));
  await fireEvent.press(await screen.findByRole("button", { name: "Parcel question" }));
  expect(await screen.findByText("Earlier")).toBeTruthy();
  await fireEvent.changeText(screen.getByLabelText("Message"), "Sent later");
  await fireEvent.press(screen.getByRole("button", { name: "Send" }));
  expect(await screen.findByText("Sent later")).toBeTruthy();
  expect(screen.getByText("Waiting for the network")).toBeTruthy();
  expect(screen.getAllByText("You are offline. Messages are sent when you are back online.").length).toBeGreaterThan(0);
  expect(send).not.toHaveBeenCalled();
  expect(outbox.state().items).toEqual([expect.objectContaining({ text: "Sent later", conversation_id: 7 })]);
});

test("help center: search, did-you-mean, an article opens", async () => {
  await session.set(TOKENS);
  api = fakeApi({
    "GET /api/v1/conversations": () => jsonResponse(200, { items: [], next_cursor: null }),
    "GET /api/v1/faqs/search": () =>
      jsonResponse(200, {
        query: "parcle",
        suggestion: "parcel",
        items: [
          { id: 1, question: "How can I track my parcel?", answer: "Use the tracking page.", language: "en", score: 1 },
          { id: 2, question: "Lost parcel", answer: "Contact us.", language: "en", score: 0.5 },
        ],
      }),
  });
  await renderApp({ user: USER });
  await fireEvent.press(await screen.findByRole("tab", { name: "Help" }));
  await fireEvent.changeText(screen.getByLabelText("Search the help center"), "parcle");
  await fireEvent.press(screen.getByRole("button", { name: "Search" }));
  await fireEvent.press(await screen.findByRole("button", { name: "How can I track my parcel?" }));
  expect(await screen.findByText("Use the tracking page.")).toBeTruthy();
  expect(screen.getByRole("button", { name: 'Did you mean "parcel"?' })).toBeTruthy();
  expect(api.calls.find((c) => c.path.startsWith("/api/v1/faqs/search"))!.path).toContain("q=parcle");
});

test("account: language choice is saved; erasure asks for the password and signs out", async () => {
  await session.set(TOKENS);
  api = fakeApi({
    "GET /api/v1/conversations": () => jsonResponse(200, { items: [], next_cursor: null }),
    "PATCH /api/v1/users/me": (c) => jsonResponse(200, { ...USER, ...(c.body as object) }),
    "DELETE /api/v1/users/me": () => new Response(null, { status: 204 }),
    "POST /api/v1/auth/logout": () => new Response(null, { status: 204 }),
  });
  await renderApp({ user: USER });
  await fireEvent.press(await screen.findByRole("tab", { name: "Account" }));
  await fireEvent.press(screen.getByRole("radio", { name: "Français" }));
  expect(await screen.findByRole("button", { name: "Supprimer mon compte" })).toBeTruthy();
  await waitFor(() => expect(api!.calls.find((c) => c.method === "PATCH")?.body).toEqual({ language: "fr" }));

  await fireEvent.press(screen.getByRole("button", { name: "Supprimer mon compte" }));
  await fireEvent.changeText(screen.getByLabelText("Mot de passe"), "a long passphrase");
  await fireEvent.press(screen.getAllByRole("button", { name: "Supprimer mon compte" }).at(-1)!);
  expect(await screen.findByRole("button", { name: "Se connecter" })).toBeTruthy();
  expect(api.calls.find((c) => c.method === "DELETE")!.body).toEqual({ current_password: "a long passphrase" });
  expect(session.get()).toBeNull();
});

test("chat: Stop stops the answer on the server and shows it as stopped", async () => {
  await session.set(TOKENS);
  const send: Sender = (body, handlers, signal) =>
    new Promise((_, reject) => {
      handlers.onAccepted?.({ message_id: 12, conversation_id: 7, user_message_id: 11 });
      handlers.onToken?.("Half an ans");
      signal.addEventListener("abort", () => reject(Object.assign(new Error("Stopped"), { name: "AbortError" })));
    });
  const outbox = new Outbox({ store: new MemoryStore(), send });
  let conv = conversation(7, []);
  api = fakeApi({
    "GET /api/v1/conversations": () => jsonResponse(200, { items: [conversation(7)], next_cursor: null }),
    "GET /api/v1/conversations/7": () => jsonResponse(200, conv),
    "POST /api/v1/chat/messages/12/stop": () => {
      conv = conversation(7, [
        stored(11, "user", "Tell me everything"),
        stored(12, "assistant", "Half an ans", { metadata: { stopped: true } }),
      ]);
      return jsonResponse(200, answer(12, "Half an ans", { stopped: true }));
    },
    "POST /api/v1/chat/messages/12/retry": () => {
      conv = conversation(7, [stored(11, "user", "Tell me everything"), stored(12, "assistant", "The whole answer")]);
      return jsonResponse(200, answer(12, "The whole answer"));
    },
  });
  await renderApp({ user: USER, outbox });
  await fireEvent.press(await screen.findByRole("button", { name: "Parcel question" }));
  await fireEvent.changeText(screen.getByLabelText("Message"), "Tell me everything");
  await fireEvent.press(screen.getByRole("button", { name: "Send" }));
  expect(await screen.findByText("Half an ans")).toBeTruthy();
  await fireEvent.press(screen.getByRole("button", { name: "Stop" }));
  expect(await screen.findByText("Stopped")).toBeTruthy();
  expect(api.calls.some((c) => c.method === "POST" && c.path === "/api/v1/chat/messages/12/stop")).toBe(true);
  expect(screen.getByRole("button", { name: "Send" })).toBeTruthy();
  // The stored stopped answer offers Regenerate, which writes it again.
  await fireEvent.press(await screen.findByRole("button", { name: "Regenerate" }));
  expect(await screen.findByText("The whole answer")).toBeTruthy();
  expect(screen.queryByRole("button", { name: "Regenerate" })).toBeNull();
});

test("chat: an answer stored as still being written is followed to its end (resume)", async () => {
  await session.set(TOKENS);
  let conv = conversation(7, [stored(11, "user", "Question"), stored(12, "assistant", "Begin", { status: "streaming" })]);
  api = fakeApi({
    "GET /api/v1/conversations": () => jsonResponse(200, { items: [conversation(7)], next_cursor: null }),
    "GET /api/v1/conversations/7": () => jsonResponse(200, conv),
    "GET /api/v1/chat/stream/12": () => {
      conv = conversation(7, [stored(11, "user", "Question"), stored(12, "assistant", "Begin and end")]);
      return new Response(
        sse([
          { event: "token", id: "12:4", data: { message_id: 12, conversation_id: 7, content: " and end" } },
          { event: "response", id: "12:5", data: answer(12, "Begin and end") },
        ]),
        { status: 200, headers: { "Content-Type": "text/event-stream" } },
      );
    },
  });
  await renderApp({ user: USER });
  await fireEvent.press(await screen.findByRole("button", { name: "Parcel question" }));
  expect(await screen.findByText("Begin and end")).toBeTruthy();
  await waitFor(() => expect(screen.getByRole("button", { name: "Helpful" })).toBeTruthy());
  expect(api.calls.some((c) => c.path === "/api/v1/chat/stream/12")).toBe(true);
});

test("account: the data export is requested and, once ready, saved on the phone and shared", async () => {
  await session.set(TOKENS);
  const ready = {
    id: "0b7f9d1c-3c53-4d6e-9a43-2f1b8f1c9e11",
    status: "done",
    created_at: "2026-12-07T10:00:00Z",
    finished_at: "2026-12-07T10:00:01Z",
    expires_at: null,
    size_bytes: 2048,
    download_url: "/api/v1/privacy/export/0b7f9d1c-3c53-4d6e-9a43-2f1b8f1c9e11/download",
  };
  api = fakeApi({
    "GET /api/v1/conversations": () => jsonResponse(200, { items: [], next_cursor: null }),
    "POST /api/v1/privacy/export": () => jsonResponse(202, ready),
    "POST /api/v1/auth/refresh": () => jsonResponse(200, { ...TOKENS, access_token: "fresh" }),
  });
  await renderApp({ user: USER });
  await fireEvent.press(await screen.findByRole("tab", { name: "Account" }));
  await fireEvent.press(screen.getByRole("button", { name: "Export my data" }));
  await fireEvent.press(await screen.findByRole("button", { name: "Your export is ready ↓" }));
  await waitFor(() =>
    expect(saveAndShare).toHaveBeenCalledWith(`http://api.test${ready.download_url}`, `helpline-data-${ready.id}.zip`, "fresh"),
  );
});
