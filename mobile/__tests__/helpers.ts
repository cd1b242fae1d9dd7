// Test doubles at the edge: SSE responses as a server writes them (chunked anywhere), and an
// in-memory key-value store.
export function sse(events: { event: string; id: string; data: Record<string, unknown> }[]): string {
  return events.map((e) => `event: ${e.event}\r\nid: ${e.id}\r\ndata: ${JSON.stringify(e.data)}\r\n\r\n`).join("");
}

/** A Response whose body streams `chunks`, then ends, or breaks (a dropped connection). */
export function streamResponse(chunks: string[], opts: { status?: number; breakAtEnd?: boolean } = {}): Response {
  const encoder = new TextEncoder();
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(encoder.encode(chunks[i++]!));
      else if (opts.breakAtEnd) controller.error(new TypeError("network connection was lost"));
      else controller.close();
    },
  });
  return new Response(body, { status: opts.status ?? 200, headers: { "Content-Type": "text/event-stream" } });
}

export function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

export class MemoryStore {
  data = new Map<string, string>();
  async getItem(key: string) {
    return this.data.get(key) ?? null;
  }
  async setItem(key: string, value: string) {
    this.data.set(key, value);
  }
}

export interface Call {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: unknown;
}

export function recordCall(url: string, init: RequestInit): Call {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries((init.headers as Record<string, string>) ?? {})) headers[k.toLowerCase()] = v;
  return { url, method: init.method ?? "GET", headers, body: init.body ? JSON.parse(String(init.body)) : undefined };
}

import type { FinalAnswer } from "../src/chat/stream";

export const answer = (id: number, content: string, extra: Record<string, unknown> = {}): FinalAnswer => ({
  message_id: id,
  conversation_id: 7,
  user_message_id: id - 1,
  content,
  status: "sent",
  tokens_used: 3,
  model_used: "fake",
  response_time_ms: 5,
  timestamp: "2026-12-07T12:00:00Z",
  sources: [],
  flagged: false,
  stopped: false,
  ...extra,
}) as FinalAnswer;
