import { useEffect, useRef, useState, type FormEvent } from "react";
import { Trans, useTranslation } from "react-i18next";
import { Link, Navigate, useNavigate } from "react-router-dom";
import { ResendVerification } from "../components/ResendVerification";
import { api, errorMessage, errorsByField, withLabel } from "../api/client";
import "./auth.css";
import { useAuth } from "../auth/AuthProvider";
import type { LanguageCode } from "../i18n";

/** The widget's "create an account" link hands over the guest's session as a one-time code
 * (#handoff=<code>), never the guest's tokens: the address, history included, holds nothing that
 * still works once the page has redeemed it. It is taken out of the address at once. */
function readHandoffCode(): string | null {
  const match = /^#handoff=([^&]+)$/.exec(globalThis.location?.hash ?? "");
  return match?.[1] ? decodeURIComponent(match[1]) : null;
}

/** The guest's access token for a hand-off code (registering with it turns that guest into the
 * account, keeping its conversations), or null when the code has expired or was used. */
async function redeemHandoff(code: string): Promise<string | null> {
  const { data } = await api.POST("/api/v1/auth/guest/handoff/redeem", { body: { code } });
  return data?.access_token ?? null;
}

/** Where the hand-off of a widget guest stands: none, being redeemed, redeemed, or refused. */
type GuestHandoff = { state: "none" | "pending" | "failed" } | { state: "ready"; token: string };

export function RegisterPage() {
  const { t, i18n } = useTranslation(["auth", "common"]);
  const { user, signIn } = useAuth();
  const navigate = useNavigate();
  const [error, setError] = useState<string | null>(null);
  // The API's field errors, each shown under its own field (with the field's translated label).
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  // The registration's answer is the same whether or not the email had an account (so nobody can
  // find out who is registered); a sign-in that then fails is the sign the email was taken.
  const [mayBeTaken, setMayBeTaken] = useState(false);
  // Sign-in waits for the email's confirmation (HELPLINE_AUTH_EMAIL_VERIFICATION=required).
  const [checkInbox, setCheckInbox] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [handoff] = useState(readHandoffCode);
  const [guest, setGuest] = useState<GuestHandoff>(handoff ? { state: "pending" } : { state: "none" });
  const redeemed = useRef(false);
  useEffect(() => {
    if (!handoff || redeemed.current) return;
    redeemed.current = true; // once: the code is single-use (StrictMode runs effects twice)
    history.replaceState(history.state, "", location.pathname + location.search);
    redeemHandoff(handoff)
      .then((token) => setGuest(token ? { state: "ready", token } : { state: "failed" }))
      .catch(() => setGuest({ state: "failed" }));
  }, [handoff]);
  const guestToken = guest.state === "ready" ? guest.token : null;

  if (user) return <Navigate to="/chat" replace />;

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const text = (name: string) => String(form.get(name) ?? "").trim() || undefined;
    setBusy(true);
    setError(null);
    setFieldErrors({});
    setMayBeTaken(false);
    try {
      const { error } = await api.POST("/api/v1/auth/register", {
        headers: guestToken ? { Authorization: `Bearer ${guestToken}` } : {},
        body: {
          email: String(form.get("email")),
          username: text("username"),
          password: String(form.get("password")),
          first_name: text("first_name"),
          last_name: text("last_name"),
          language: i18n.language as LanguageCode,
          timezone: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC",
          data_processing_consent: form.get("data_processing_consent") === "on",
          gdpr_consent: form.get("gdpr_consent") === "on",
          marketing_consent: form.get("marketing_consent") === "on",
        },
      });
      if (error) {
        setFieldErrors(errorsByField(error));
        return setError(errorMessage(error, undefined, labels));
      }
      const login = await api.POST("/api/v1/auth/login", {
        body: { email: String(form.get("email")), password: String(form.get("password")) },
      });
      if (login.response.status === 401) return setMayBeTaken(true);
      if ((login.error as { error?: string } | undefined)?.error === "email_not_verified") {
        return setCheckInbox(String(form.get("email")).trim());
      }
      if (login.error || !login.data) return setError(errorMessage(login.error, undefined, labels));
      await signIn(login.data);
      navigate("/chat", { replace: true });
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  }

  const policy = <Link to="/privacy" target="_blank" />;
  // The form's own names for the API's fields: "Password is too easy…", never "password: …".
  const labels: Record<string, string> = {
    email: t("email"),
    username: t("username"),
    password: t("password"),
    first_name: t("firstName"),
    last_name: t("lastName"),
    data_processing_consent: t("dataConsentLabel"),
    gdpr_consent: t("gdprConsentLabel"),
  };
  /** Props tying a field to its error (when it has one). */
  const invalid = (name: string, described?: string) => {
    const ids = [described, fieldErrors[name] ? `${name}-error` : undefined].filter(Boolean).join(" ");
    return { "aria-invalid": fieldErrors[name] ? true : undefined, "aria-describedby": ids || undefined };
  };
  const fieldError = (name: string) =>
    fieldErrors[name] ? (
      <small id={`${name}-error`} className="field-error">
        {withLabel(labels[name] ?? name, fieldErrors[name])}
      </small>
    ) : null;
  if (checkInbox) {
    return (
      <section className="auth-page">
        <h1>{t("checkInboxTitle")}</h1>
        <p role="status" className="notice">{t("checkInbox", { email: checkInbox })}</p>
        <ResendVerification email={checkInbox} />
      </section>
    );
  }
  return (
    <section className="auth-page">
      <h1>{t("registerTitle")}</h1>
      {guestToken && (
        <p role="status" className="notice">
          {t("guestKept")}
        </p>
      )}
      {guest.state === "failed" && (
        <p role="status" className="notice">
          {t("guestLinkExpired")}
        </p>
      )}
      <form onSubmit={(e) => void submit(e)}>
        <label>
          {t("email")}
          <input name="email" type="email" autoComplete="email" required {...invalid("email")} />
          {fieldError("email")}
        </label>
        <label>
          {t("username")}
          <input name="username" autoComplete="username" minLength={3} maxLength={50} {...invalid("username")} />
          {fieldError("username")}
        </label>
        <div className="row">
          <label>
            {t("firstName")}
            <input name="first_name" autoComplete="given-name" maxLength={100} {...invalid("first_name")} />
            {fieldError("first_name")}
          </label>
          <label>
            {t("lastName")}
            <input name="last_name" autoComplete="family-name" maxLength={100} {...invalid("last_name")} />
            {fieldError("last_name")}
          </label>
        </div>
        <label>
          {t("password")}
          <input name="password" type="password" autoComplete="new-password" required minLength={8} {...invalid("password", "password-hint")} />
          <small id="password-hint">{t("passwordHint")}</small>
          {fieldError("password")}
        </label>
        <fieldset className="consents">
          <legend>{t("consentsTitle")}</legend>
          <label className="check consent">
            <input name="data_processing_consent" type="checkbox" required {...invalid("data_processing_consent")} />
            <span>
              <Trans t={t} i18nKey="dataConsent" components={{ 1: policy }} /> <span className="required-mark">{t("requiredMark")}</span>
            </span>
          </label>
          {fieldError("data_processing_consent")}
          <label className="check consent">
            <input name="gdpr_consent" type="checkbox" {...invalid("gdpr_consent")} />
            <span>
              <Trans t={t} i18nKey="gdprConsent" components={{ 1: policy }} />
            </span>
          </label>
          {fieldError("gdpr_consent")}
          <label className="check consent">
            <input name="marketing_consent" type="checkbox" />
            <span>{t("marketingConsent")}</span>
          </label>
        </fieldset>
        {error && <p role="alert" className="error">{error}</p>}
        {mayBeTaken && (
          <p role="alert" className="error">
            <Trans t={t} i18nKey="emailMayBeRegistered" components={{ 1: <Link to="/login" /> }} />
          </p>
        )}
        <button type="submit" disabled={busy || guest.state === "pending"}>
          {t("submitRegister")}
        </button>
      </form>
      <p>
        {t("haveAccount")} <Link to="/login">{t("common:nav.signIn")}</Link>
      </p>
    </section>
  );
}
