// The app's shared state: who is signed in, which screen is shown (a small stack: the app has
// few screens, and this keeps it free of a navigation library), the outbox and the network.
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { AppState } from "react-native";
import AsyncStorage from "@react-native-async-storage/async-storage";
import NetInfo from "@react-native-community/netinfo";
import { api, type Schemas } from "./api/client";
import { session, type Tokens } from "./auth/session";
import { Outbox, withClientIdFallback, type OutboxState } from "./chat/outbox";
import { sendWithStream, wakeAll } from "./chat/transport";
import { useI18n } from "./i18n";

export type Route =
  | { name: "login"; notice?: string }
  | { name: "register" }
  | { name: "conversations" }
  | { name: "chat"; conversationId: number | null; thread?: string }
  | { name: "help"; query?: string }
  | { name: "account" };

export type User = Schemas["UserRead"];

interface AppValue {
  user: User | null;
  route: Route;
  navigate(route: Route): void;
  back(): void;
  signIn(tokens: Tokens & { user: User }): Promise<void>;
  signOut(notice?: string): Promise<void>;
  setUser(user: User): void;
  outbox: Outbox;
  outboxState: OutboxState;
  /** Bumped when an answer finished: lists refresh. */
  answered: number;
}

const Context = createContext<AppValue | null>(null);

export function useApp(): AppValue {
  const value = useContext(Context);
  if (!value) throw new Error("useApp outside AppProvider");
  return value;
}

export function makeOutbox(onAnswered?: () => void): Outbox {
  return new Outbox({ store: AsyncStorage, send: withClientIdFallback(sendWithStream), onAnswered });
}

export function AppProvider({
  children,
  initialUser = null,
  outbox: given,
}: {
  children: ReactNode;
  initialUser?: User | null;
  outbox?: Outbox;
}) {
  const { setLanguage } = useI18n();
  const [user, setUserState] = useState<User | null>(initialUser);
  const [stack, setStack] = useState<Route[]>([initialUser ? { name: "conversations" } : { name: "login" }]);
  const [answered, setAnswered] = useState(0);
  const outboxRef = useRef<Outbox | null>(given ?? null);
  outboxRef.current ??= makeOutbox(() => setAnswered((n) => n + 1));
  const outbox = outboxRef.current;
  const [outboxState, setOutboxState] = useState<OutboxState>(outbox.state());

  useEffect(() => {
    const unsubscribe = outbox.subscribe(setOutboxState);
    void outbox.load();
    return unsubscribe;
  }, [outbox]);

  // Only the signed-in user's messages are sent (and shown).
  useEffect(() => outbox.setUser(user?.id ?? null), [outbox, user]);

  // The network and the app's foreground: the outbox sends when online; a broken stream is
  // re-attached at once when the app comes back.
  useEffect(() => {
    const unNet = NetInfo.addEventListener((state) => {
      const online = state.isConnected !== false && state.isInternetReachable !== false;
      outbox.setOnline(online);
      if (online) wakeAll();
    });
    const appState = AppState.addEventListener("change", (next) => {
      if (next === "active") {
        wakeAll();
        if (user) void outbox.flush();
      }
    });
    return () => {
      unNet();
      appState.remove();
    };
  }, [outbox, user]);

  useEffect(
    () =>
      session.subscribe((tokens, reason) => {
        if (tokens === null) {
          setUserState(null);
          setStack([{ name: "login", notice: reason === "expired" ? "Your session ended. Sign in again." : undefined }]);
        }
      }),
    [],
  );

  const navigate = useCallback((route: Route) => {
    setStack((s) => {
      // The tabs replace the stack; a chat goes on top of the list.
      if (route.name === "chat") return [...s.filter((r) => r.name !== "chat"), route];
      return [route];
    });
  }, []);
  const back = useCallback(() => setStack((s) => (s.length > 1 ? s.slice(0, -1) : s)), []);

  const signIn = useCallback(
    async (tokens: Tokens & { user: User }) => {
      await session.set(tokens);
      setUserState(tokens.user);
      setLanguage(tokens.user.language);
      setStack([{ name: "conversations" }]);
    },
    [outbox, setLanguage],
  );

  const signOut = useCallback(async (notice?: string) => {
    const refresh = session.get()?.refresh_token;
    if (refresh) await api().POST("/api/v1/auth/logout", { body: { refresh_token: refresh } }).catch(() => undefined);
    await session.clear();
    setUserState(null);
    setStack([{ name: "login", notice }]);
  }, []);

  const value = useMemo<AppValue>(
    () => ({
      user,
      route: stack[stack.length - 1]!,
      navigate,
      back,
      signIn,
      signOut,
      setUser: setUserState,
      outbox,
      outboxState,
      answered,
    }),
    [user, stack, navigate, back, signIn, signOut, outbox, outboxState, answered],
  );
  return <Context.Provider value={value}>{children}</Context.Provider>;
}
