// A fake Helpline API for the screen tests: routes (method + path) to handlers, every call kept.
import { jsonResponse } from "./helpers";

export interface ApiCall {
  method: string;
  path: string;
  body: unknown;
  headers: Headers;
}

type Handler = (call: ApiCall) => Response | Promise<Response>;

export function fakeApi(routes: Record<string, Handler>): { calls: ApiCall[]; restore(): void } {
  const calls: ApiCall[] = [];
  const original = globalThis.fetch;
  globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(String(input), init);
    const url = new URL(request.url);
    const text = request.method === "GET" || request.method === "HEAD" ? "" : await request.text();
    const call: ApiCall = {
      method: request.method,
      path: url.pathname + url.search,
      body: text ? JSON.parse(text) : undefined,
      headers: request.headers,
    };
    calls.push(call);
    const key = Object.keys(routes).find((k) => {
      const [method, path] = k.split(" ");
      return method === call.method && new RegExp(`^${path}$`).test(url.pathname);
    });
    if (!key) return jsonResponse(404, { detail: `no route for ${call.method} ${url.pathname}` });
    return routes[key]!(call);
  }) as typeof fetch;
  return { calls, restore: () => void (globalThis.fetch = original) };
}
