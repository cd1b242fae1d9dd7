import { useEffect, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link, Navigate, useLocation, useNavigate } from "react-router-dom";
import { api, errorMessage } from "../api/client";
import { useAuth } from "../auth/AuthProvider";
import { ResendVerification } from "../components/ResendVerification";
import { PASSWORD_RESET } from "./ResetPasswordPage";

export const ACCOUNT_DELETED = "helpline.accountDeleted";

export function LoginPage() {
  const { t } = useTranslation(["auth", "common"]);
  const { user, signIn, expired } = useAuth();
  const navigate = useNavigate();
  const from = (useLocation().state as { from?: string } | null)?.from ?? "/chat";
  // Set by "Delete my account" (account/Privacy.tsx) just before it ends the session.
  const [deleted] = useState(() => sessionStorage.getItem(ACCOUNT_DELETED) === "1");
  // Set by the reset-password page after a new password was saved.
  const [reset] = useState(() => sessionStorage.getItem(PASSWORD_RESET) === "1");
  useEffect(() => {
    sessionStorage.removeItem(ACCOUNT_DELETED);
    sessionStorage.removeItem(PASSWORD_RESET);
  }, []);
  const [typed, setTyped] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [unverified, setUnverified] = useState(false);
  const [busy, setBusy] = useState(false);

  if (user) return <Navigate to={from} replace />;

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError(null);
    try {
      const { data, error } = await api.POST("/api/v1/auth/login", {
        body: { login: String(form.get("login")), password: String(form.get("password")) },
      });
      setUnverified((error as { error?: string } | undefined)?.error === "email_not_verified");
      if (error || !data) return setError(errorMessage(error));
      await signIn(data);
      navigate(from, { replace: true });
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="auth-page">
      <h1>{t("signInTitle")}</h1>
      {expired && <p role="status" className="notice">{t("common:sessionExpired")}</p>}
      {deleted && <p role="status" className="notice">{t("common:accountDeleted")}</p>}
      {reset && <p role="status" className="notice">{t("passwordWasReset")}</p>}
      <form onSubmit={(e) => void submit(e)} noValidate={false}>
        <label>
          {t("login")}
          <input name="login" autoComplete="username" required onChange={(e) => setTyped(e.target.value)} />
        </label>
        <label>
          {t("password")}
          <input name="password" type="password" autoComplete="current-password" required />
        </label>
        {error && <p role="alert" className="error">{error}</p>}
        {unverified && <ResendVerification email={typed.includes("@") ? typed.trim() : undefined} />}
        <button type="submit" disabled={busy}>
          {t("submitSignIn")}
        </button>
      </form>
      <p>
        <Link to="/forgot-password" state={{ login: typed }}>{t("forgotLink")}</Link>
      </p>
      <p>
        {t("noAccount")} <Link to="/register" state={{ from }}>{t("common:nav.register")}</Link>
      </p>
    </section>
  );
}
