// The fetch that streams: expo/fetch on a phone (React Native's own fetch reads a body only
// whole), the browser's in the web build. "Try now" wake-ups when the app comes back to the
// foreground or the network returns, for the stream client and the outbox.
import { Platform } from "react-native";
import { fetch as expoFetch } from "expo/fetch";
import { session } from "../auth/session";
import { ApiRefusal, streamMessage, type StreamFetch, type StreamOptions } from "./stream";
import type { Sender } from "./outbox";

export const streamFetch: StreamFetch =
  Platform.OS === "web"
    ? (url, init) => globalThis.fetch(url, init)
    : (url, init) => expoFetch(url, init as Parameters<typeof expoFetch>[1]) as unknown as Promise<Response>;

const wakers = new Set<() => void>();

export function wakeAll(): void {
  for (const wake of [...wakers]) wake();
}

export function onWake(callback: () => void): () => void {
  wakers.add(callback);
  return () => wakers.delete(callback);
}

export function streamOptions(signal?: AbortSignal): StreamOptions {
  return {
    baseUrl: session.baseUrl(),
    fetch: streamFetch,
    authorization: () => {
      const token = session.get()?.access_token;
      return token ? `Bearer ${token}` : null;
    },
    signal,
    wake: onWake,
  };
}

/** The outbox's sender: stream the message; an expired access token is refreshed once. */
export const sendWithStream: Sender = async (body, handlers, signal) => {
  try {
    return await streamMessage(body, handlers, streamOptions(signal));
  } catch (error) {
    if (error instanceof ApiRefusal && error.status === 401 && (await session.refresh())) {
      return streamMessage(body, handlers, streamOptions(signal));
    }
    throw error;
  }
};
