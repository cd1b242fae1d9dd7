import { useState } from "react";
import { useTranslation } from "react-i18next";
import { api, errorMessage } from "../api/client";

/** "Send the link again" for an email whose confirmation link was lost or expired. With no email
 * known, it asks for one. The server answers the same whether or not a mail went out. */
export function ResendVerification({ email }: { email?: string }) {
  const { t } = useTranslation("auth");
  const [typed, setTyped] = useState(email ?? "");
  const [sent, setSent] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function resend() {
    setBusy(true);
    setError(null);
    try {
      const { error } = await api.POST("/api/v1/auth/verify-email/resend", { body: { email: typed.trim() } });
      if (error) return setError(errorMessage(error));
      setSent(true);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  }

  if (sent) return <p role="status" className="notice">{t("verifySent", { email: typed.trim() })}</p>;
  return (
    <div className="resend-verification">
      {email === undefined && (
        <label>
          {t("email")}
          <input type="email" autoComplete="email" value={typed} onChange={(e) => setTyped(e.target.value)} />
        </label>
      )}
      {error && <p role="alert" className="error">{error}</p>}
      <button type="button" onClick={() => void resend()} disabled={busy || !typed.includes("@")}>
        {t("resendLink")}
      </button>
    </div>
  );
}
