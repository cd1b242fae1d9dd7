import { useEffect, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router-dom";
import { api, errorMessage } from "../api/client";

export const PASSWORD_RESET = "helpline.passwordReset";

/** The page a reset mail links to: /reset-password#token=... The token rides in the fragment, which
 * browsers never send to a server; it is taken out of the address bar as soon as the page opens. */
export function ResetPasswordPage() {
  const { t } = useTranslation(["auth", "common"]);
  const navigate = useNavigate();
  const [token] = useState(() => new URLSearchParams(window.location.hash.slice(1)).get("token") ?? "");
  useEffect(() => {
    if (window.location.hash) window.history.replaceState(window.history.state, "", window.location.pathname);
  }, []);
  const [error, setError] = useState<string | null>(null);
  const [expired, setExpired] = useState(!token);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const password = String(form.get("password"));
    if (password !== String(form.get("confirm"))) return setError(t("passwordsDiffer"));
    setBusy(true);
    setError(null);
    try {
      const { error, response } = await api.POST("/api/v1/auth/password-reset/confirm", {
        body: { token, new_password: password },
      });
      if (response.status === 400) return setExpired(true);
      if (error) return setError(errorMessage(error));
      sessionStorage.setItem(PASSWORD_RESET, "1");
      navigate("/login", { replace: true });
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="auth-page">
      <h1>{t("resetTitle")}</h1>
      {expired ? (
        <p role="alert" className="error">
          {t("resetLinkExpired")} <Link to="/forgot-password">{t("askNewLink")}</Link>
        </p>
      ) : (
        <form onSubmit={(e) => void submit(e)}>
          <label>
            {t("newPassword")}
            <input name="password" type="password" autoComplete="new-password" minLength={8} required />
          </label>
          <p className="hint">{t("passwordHint")}</p>
          <label>
            {t("confirmPassword")}
            <input name="confirm" type="password" autoComplete="new-password" minLength={8} required />
          </label>
          {error && <p role="alert" className="error">{error}</p>}
          <button type="submit" disabled={busy}>
            {t("submitReset")}
          </button>
        </form>
      )}
    </section>
  );
}
