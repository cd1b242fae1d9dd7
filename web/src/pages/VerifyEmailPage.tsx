import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";
import { api, errorMessage } from "../api/client";
import { useAuth } from "../auth/AuthProvider";
import { ResendVerification } from "../components/ResendVerification";

type State = { kind: "working" } | { kind: "done"; email: string } | { kind: "expired" } | { kind: "failed"; message: string };

/** The page a confirmation mail links to: /verify-email#token=... (the token rides in the
 * fragment, never sent to a server, and leaves the address bar as soon as the page opens). */
export function VerifyEmailPage() {
  const { t } = useTranslation(["auth", "common"]);
  const { user } = useAuth();
  const queryClient = useQueryClient();
  const [state, setState] = useState<State>({ kind: "working" });
  const started = useRef(false);

  useEffect(() => {
    if (started.current) return; // once, also under StrictMode's double effects: the token is single-use
    started.current = true;
    const token = new URLSearchParams(window.location.hash.slice(1)).get("token") ?? "";
    if (window.location.hash) window.history.replaceState(window.history.state, "", window.location.pathname);
    if (!token) return setState({ kind: "expired" });
    api
      .POST("/api/v1/auth/verify-email", { body: { token } })
      .then(async ({ data, response, error }) => {
        if (response.status === 400) return setState({ kind: "expired" });
        if (error || !data) return setState({ kind: "failed", message: errorMessage(error) });
        setState({ kind: "done", email: data.email });
        await queryClient.invalidateQueries({ queryKey: ["me"] });
      })
      .catch((e: unknown) => setState({ kind: "failed", message: errorMessage(e) }));
  }, [queryClient]);

  return (
    <section className="auth-page">
      <h1>{t("verifyTitle")}</h1>
      {state.kind === "working" && <p role="status">{t("common:loading")}</p>}
      {state.kind === "done" && (
        <>
          <p role="status" className="notice">{t("verifyDone", { email: state.email })}</p>
          <p>{user ? <Link to="/chat">{t("common:nav.chat")}</Link> : <Link to="/login">{t("common:nav.signIn")}</Link>}</p>
        </>
      )}
      {state.kind === "expired" && (
        <>
          <p role="alert" className="error">{t("verifyExpired")}</p>
          <ResendVerification email={user && !user.email_verified ? user.email : undefined} />
        </>
      )}
      {state.kind === "failed" && <p role="alert" className="error">{state.message}</p>}
    </section>
  );
}
