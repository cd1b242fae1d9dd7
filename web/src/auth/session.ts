// The signed-in session: tokens in localStorage (so a reload or a new tab stays signed in), a
// single-flight refresh, and listeners so React re-renders when it changes.
export interface Tokens {
  access_token: string;
  refresh_token: string;
}

const KEY = "helpline.session";
type Listener = (tokens: Tokens | null, reason?: "expired" | "signed-out") => void;
const listeners = new Set<Listener>();
let refreshing: Promise<boolean> | null = null;

function read(): Tokens | null {
  try {
    const raw = localStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Tokens) : null;
  } catch {
    return null;
  }
}

function write(tokens: Tokens | null, reason?: "expired" | "signed-out"): void {
  if (tokens) localStorage.setItem(KEY, JSON.stringify({ access_token: tokens.access_token, refresh_token: tokens.refresh_token }));
  else localStorage.removeItem(KEY);
  for (const listener of listeners) listener(tokens, reason);
}

export const session = {
  get: read,
  set(tokens: Tokens): void {
    write(tokens);
  },
  /** Signed out on purpose (logout). */
  clear(): void {
    write(null, "signed-out");
  },
  /** The refresh token no longer works: the app sends the user to the login page. */
  expire(): void {
    write(null, "expired");
  },
  subscribe(listener: Listener): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
  /** Trade the refresh token for new tokens; concurrent callers share one request. */
  refresh(): Promise<boolean> {
    refreshing ??= (async () => {
      const current = read();
      if (!current) return false;
      try {
        const response = await fetch("/api/v1/auth/refresh", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ refresh_token: current.refresh_token }),
        });
        if (!response.ok) return false;
        write((await response.json()) as Tokens);
        return true;
      } catch {
        return false;
      }
    })().finally(() => {
      refreshing = null;
    });
    return refreshing;
  },
};

// Another tab signed in or out: follow it.
globalThis.addEventListener?.("storage", (event: StorageEvent) => {
  if (event.key === KEY) for (const listener of listeners) listener(read());
});
