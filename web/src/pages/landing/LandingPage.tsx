import { useEffect } from "react";
import { useTranslation } from "react-i18next";
import { Link, Navigate } from "react-router-dom";
import { useAuth } from "../../auth/AuthProvider";
import { useGuestChat } from "../../guest/guestChat";
import "./landing.css";

/** `/`: the chat for a signed-in user; for a visitor, what this is and the ways in: chat as a
 * guest (the chat widget's guest flow, where the server allows guests), the help center, or an
 * account (which keeps conversations). */
export function Home() {
  const { user, loading } = useAuth();
  const { t } = useTranslation();
  if (loading) return <p role="status">{t("loading")}</p>;
  if (user) return <Navigate to="/chat" replace />;
  return <LandingPage />;
}

function LandingPage() {
  const { t, i18n } = useTranslation(["landing", "common"]);
  const guest = useGuestChat((i18n.resolvedLanguage ?? i18n.language ?? "en").slice(0, 2));
  useEffect(() => {
    document.title = `${t("title")} · ${t("common:appName")}`;
  }, [t]);
  return (
    <div className="landing">
      <section className="landing-hero" aria-labelledby="landing-title">
        <h1 id="landing-title">{t("title")}</h1>
        <p className="landing-lead">{t("lead")}</p>
        <div className="landing-actions">
          {guest.allowed && (
            <button type="button" onClick={() => void guest.open()}>
              {t("chatAsGuest")}
            </button>
          )}
          <Link className="landing-button secondary" to="/help">
            {t("browseHelp")}
          </Link>
        </div>
        {guest.allowed === false && <p className="landing-note">{t("guestsOff")}</p>}
        <p className="landing-account">
          <Link to="/login">{t("common:nav.signIn")}</Link>
          {" · "}
          <Link to="/register">{t("createAccount")}</Link>
          <span className="landing-muted"> {t("accountWhy")}</span>
        </p>
      </section>
      <section aria-labelledby="landing-how" className="landing-how">
        <h2 id="landing-how">{t("how.title")}</h2>
        <ul>
          <li>
            <h3>{t("how.answersTitle")}</h3>
            <p>{t("how.answers")}</p>
          </li>
          <li>
            <h3>{t("how.sourcesTitle")}</h3>
            <p>{t("how.sources")}</p>
          </li>
          <li>
            <h3>{t("how.peopleTitle")}</h3>
            <p>{t("how.people")}</p>
          </li>
        </ul>
      </section>
    </div>
  );
}
