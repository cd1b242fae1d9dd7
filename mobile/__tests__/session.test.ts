import { normalizeServer, Session } from "../src/auth/session";
import { routeOfUrl } from "../src/push";
import { jsonResponse, MemoryStore } from "./helpers";

function store() {
  const m = new MemoryStore();
  return { m, s: { get: (k: string) => m.getItem(k), set: (k: string, v: string) => m.setItem(k, v), remove: async (k: string) => void m.data.delete(k) } };
}

test("the tokens and the server are kept in the secure store and read back at start", async () => {
  const { m, s } = store();
  const first = new Session(s);
  await first.setServer(" 192.168.1.20:8000/ ");
  await first.set({ access_token: "a", refresh_token: "r" });
  expect(JSON.parse(m.data.get("helpline.session")!)).toEqual({ access_token: "a", refresh_token: "r" });
  const again = new Session(s);
  expect(await again.load()).toEqual({ access_token: "a", refresh_token: "r" });
  expect(again.baseUrl()).toBe("http://192.168.1.20:8000");
  await again.clear();
  expect(m.data.has("helpline.session")).toBe(false);
});

test("concurrent refreshes share one request; a refused refresh fails", async () => {
  const { s } = store();
  const calls: string[] = [];
  let ok = true;
  const fetcher = (async (url: string, init: RequestInit) => {
    calls.push(`${url} ${init.body}`);
    return ok ? jsonResponse(200, { access_token: "a2", refresh_token: "r2" }) : jsonResponse(401, {});
  }) as unknown as typeof fetch;
  const session = new Session(s, fetcher);
  await session.setServer("https://help.example.com");
  await session.set({ access_token: "a1", refresh_token: "r1" });
  expect(await Promise.all([session.refresh(), session.refresh(), session.refresh()])).toEqual([true, true, true]);
  expect(calls).toEqual(['https://help.example.com/api/v1/auth/refresh {"refresh_token":"r1"}']);
  expect(session.get()).toEqual({ access_token: "a2", refresh_token: "r2" });
  ok = false;
  expect(await session.refresh()).toBe(false);
});

test("server addresses as typed are made usable", () => {
  expect(normalizeServer("10.0.2.2:8000")).toBe("http://10.0.2.2:8000");
  expect(normalizeServer("https://help.example.com///")).toBe("https://help.example.com");
});

test("a notification's url opens the right screen", () => {
  expect(routeOfUrl("/chat/42")).toEqual({ name: "chat", conversationId: 42 });
  expect(routeOfUrl("/account")).toEqual({ name: "account" });
  expect(routeOfUrl("/admin/moderation")).toEqual({ name: "conversations" });
  expect(routeOfUrl(undefined)).toEqual({ name: "conversations" });
});
