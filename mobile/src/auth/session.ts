// The signed-in session and the server it belongs to. Tokens live in the secure store; the
// server's address is chosen on the login screen (Expo Go on a phone reaches the computer
// running Helpline by its LAN address), defaulting to EXPO_PUBLIC_API_URL or, in the web build,
// the page's own origin.
import { Platform } from "react-native";
import { secretStore, type SecretStore } from "./storage";

export interface Tokens {
  access_token: string;
  refresh_token: string;
}

const TOKENS_KEY = "helpline.session";
const SERVER_KEY = "helpline.server";

type Listener = (tokens: Tokens | null, reason?: "expired" | "signed-out") => void;

export function defaultServer(): string {
  const configured = process.env.EXPO_PUBLIC_API_URL;
  if (configured) return configured.replace(/\/+$/, "");
  if (Platform.OS === "web" && globalThis.location?.origin) return globalThis.location.origin;
  return "http://127.0.0.1:8000";
}

/** A server address as the user typed it, made usable: scheme added, trailing slashes gone. */
export function normalizeServer(input: string): string {
  let value = input.trim().replace(/\/+$/, "");
  if (value && !/^https?:\/\//i.test(value)) value = `http://${value}`;
  return value;
}

export class Session {
  private tokens: Tokens | null = null;
  private server: string = defaultServer();
  private listeners = new Set<Listener>();
  private refreshing: Promise<boolean> | null = null;

  constructor(
    private store: SecretStore = secretStore,
    private fetcher: typeof fetch = (...args) => fetch(...args),
  ) {}

  /** Read what was saved on the device (call once at start). */
  async load(): Promise<Tokens | null> {
    const [raw, server] = await Promise.all([this.store.get(TOKENS_KEY), this.store.get(SERVER_KEY)]);
    if (server) this.server = server;
    try {
      this.tokens = raw ? (JSON.parse(raw) as Tokens) : null;
    } catch {
      this.tokens = null;
    }
    return this.tokens;
  }

  get(): Tokens | null {
    return this.tokens;
  }

  baseUrl(): string {
    return this.server;
  }

  async setServer(server: string): Promise<void> {
    this.server = normalizeServer(server) || defaultServer();
    await this.store.set(SERVER_KEY, this.server);
  }

  async set(tokens: Tokens): Promise<void> {
    this.tokens = { access_token: tokens.access_token, refresh_token: tokens.refresh_token };
    await this.store.set(TOKENS_KEY, JSON.stringify(this.tokens));
    this.emit(this.tokens);
  }

  /** Signed out on purpose. */
  async clear(): Promise<void> {
    this.tokens = null;
    await this.store.remove(TOKENS_KEY);
    this.emit(null, "signed-out");
  }

  /** The refresh token no longer works: back to the login screen. */
  async expire(): Promise<void> {
    this.tokens = null;
    await this.store.remove(TOKENS_KEY);
    this.emit(null, "expired");
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Trade the refresh token for new tokens; concurrent callers share one request. */
  refresh(): Promise<boolean> {
    this.refreshing ??= (async () => {
      const current = this.tokens;
      if (!current) return false;
      try {
        const response = await this.fetcher(`${this.server}/api/v1/auth/refresh`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ refresh_token: current.refresh_token }),
        });
        if (!response.ok) return false;
        await this.set((await response.json()) as Tokens);
        return true;
      } catch {
        return false;
      }
    })().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private emit(tokens: Tokens | null, reason?: "expired" | "signed-out"): void {
    for (const listener of this.listeners) listener(tokens, reason);
  }
}

export const session = new Session();
