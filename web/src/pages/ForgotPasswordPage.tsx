import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link, useLocation } from "react-router-dom";
import { api, errorMessage } from "../api/client";

/** "Forgot your password?": mails a reset link. The server answers the same for every email. */
export function ForgotPasswordPage() {
  const { t, i18n } = useTranslation(["auth", "common"]);
  const typed = (useLocation().state as { login?: string } | null)?.login ?? "";
  const [sent, setSent] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const email = String(new FormData(event.currentTarget).get("email")).trim();
    setBusy(true);
    setError(null);
    try {
      const { data, error } = await api.POST("/api/v1/auth/password-reset", {
        body: { email, language: i18n.language.split("-")[0] ?? "en" },
      });
      if (error || !data) return setError(errorMessage(error));
      setSent(t("resetSent", { email }));
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="auth-page">
      <h1>{t("forgotTitle")}</h1>
      {sent ? (
        <p role="status" className="notice">{sent}</p>
      ) : (
        <form onSubmit={(e) => void submit(e)}>
          <p>{t("forgotIntro")}</p>
          <label>
            {t("email")}
            <input name="email" type="email" autoComplete="email" defaultValue={typed.includes("@") ? typed : ""} required />
          </label>
          {error && <p role="alert" className="error">{error}</p>}
          <button type="submit" disabled={busy}>
            {t("submitForgot")}
          </button>
        </form>
      )}
      <p>
        <Link to="/login">{t("backToSignIn")}</Link>
      </p>
    </section>
  );
}
