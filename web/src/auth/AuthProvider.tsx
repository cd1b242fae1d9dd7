import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { Navigate, useLocation } from "react-router-dom";
import { api, type Schemas } from "../api/client";
import { setLanguage, LANGUAGES, type LanguageCode } from "../i18n";
import { session, type Tokens } from "./session";

export type User = Schemas["UserRead"];

interface AuthState {
  user: User | null;
  loading: boolean;
  /** Set when the session ended by itself (refresh refused): the login page says so. */
  expired: boolean;
  signIn(tokens: Tokens): Promise<void>;
  signOut(): Promise<void>;
}

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [signedIn, setSignedIn] = useState(() => session.get() !== null);
  const [expired, setExpired] = useState(false);

  useEffect(
    () =>
      session.subscribe((tokens, reason) => {
        setSignedIn(tokens !== null);
        if (reason === "expired") setExpired(true);
        if (tokens === null) queryClient.removeQueries({ predicate: (q) => q.queryKey[0] !== "public" });
        else setExpired(false);
      }),
    [queryClient],
  );

  const me = useQuery({
    queryKey: ["me"],
    enabled: signedIn,
    queryFn: async () => {
      const { data, error } = await api.GET("/api/v1/users/me");
      if (error) throw error;
      return data;
    },
  });

  // The interface follows the language saved on the account.
  useEffect(() => {
    const lang = me.data?.language?.slice(0, 2);
    if (lang && LANGUAGES.some((l) => l.code === lang)) setLanguage(lang as LanguageCode);
  }, [me.data?.language]);

  const signIn = useCallback(
    async (tokens: Tokens) => {
      session.set(tokens);
      await queryClient.invalidateQueries({ queryKey: ["me"] });
    },
    [queryClient],
  );

  const signOut = useCallback(async () => {
    const refresh_token = session.get()?.refresh_token;
    try {
      await api.POST("/api/v1/auth/logout", { body: refresh_token ? { refresh_token } : {} });
    } finally {
      session.clear();
      queryClient.clear();
    }
  }, [queryClient]);

  const value = useMemo<AuthState>(
    () => ({ user: signedIn ? (me.data ?? null) : null, loading: signedIn && me.isPending, expired, signIn, signOut }),
    [signedIn, me.data, me.isPending, expired, signIn, signOut],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const state = useContext(AuthContext);
  if (!state) throw new Error("useAuth outside <AuthProvider>");
  return state;
}

/** Pages for signed-in users (optionally with one of `roles`); others go to the login page,
 * which brings them back here afterwards. */
export function RequireAuth({ children, roles }: { children: ReactNode; roles?: User["role"][] }) {
  const { user, loading } = useAuth();
  const location = useLocation();
  if (loading) return <p role="status">…</p>;
  if (!user) return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  if (roles && !roles.includes(user.role)) return <Navigate to="/" replace />;
  return <>{children}</>;
}
