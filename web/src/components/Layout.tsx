import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { Link, NavLink, useLocation, useNavigate } from "react-router-dom";
import { api } from "../api/client";
import { useAuth } from "../auth/AuthProvider";
import { LANGUAGES, setLanguage, type LanguageCode } from "../i18n";
import { useTheme } from "../theme";

export function LanguageSwitch() {
  const { t, i18n } = useTranslation();
  const { user, loading } = useAuth();
  const queryClient = useQueryClient();
  async function choose(code: LanguageCode) {
    setLanguage(code);
    // Signed in: the account keeps the choice (other devices, and the answers' language).
    if (user && user.language !== code) {
      const { data } = await api.PATCH("/api/v1/users/me", { body: { language: code } });
      if (data) queryClient.setQueryData(["me"], data);
    }
  }
  return (
    <label className="language-switch">
      <span className="visually-hidden">{t("language")}</span>
      {/* Disabled while the account loads: the account's language, arriving, would undo a choice
          made meanwhile, and the choice could not be saved to an account not yet known. */}
      <select
        value={i18n.language}
        onChange={(e) => void choose(e.target.value as LanguageCode)}
        aria-label={t("language")}
        disabled={loading}
      >
        {LANGUAGES.map((l) => (
          <option key={l.code} value={l.code} lang={l.code}>
            {l.label}
          </option>
        ))}
      </select>
    </label>
  );
}

/** Dark mode on or off (the system's preference until pressed; remembered on this device). */
export function ThemeToggle() {
  const { t } = useTranslation();
  const [theme, setTheme] = useTheme();
  const dark = theme === "dark";
  return (
    <button type="button" className="secondary theme-toggle" aria-pressed={dark} onClick={() => setTheme(dark ? "light" : "dark")}>
      <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">
        <path fill="currentColor" d="M21 12.8A9 9 0 1 1 11.2 3a7 7 0 0 0 9.8 9.8z" />
      </svg>
      <span className="theme-label">{t("darkMode")}</span>
    </button>
  );
}

export function Layout({ children }: { children: ReactNode }) {
  const { t } = useTranslation();
  const { user, signOut } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const staff = user?.role === "admin" || user?.role === "moderator";
  // On a phone the menu and the account actions fold behind one button, so the header is one slim row.
  const [menuOpen, setMenuOpen] = useState(false);
  useEffect(() => setMenuOpen(false), [location.pathname]);
  return (
    <>
      <a className="skip-link" href="#main">
        {t("skipToContent")}
      </a>
      <header className="app-header">
        <Link to="/" className="brand">
          {t("appName")}
        </Link>
        <ThemeToggle />
        <button
          type="button"
          className="secondary menu-toggle"
          aria-expanded={menuOpen}
          aria-controls="site-menu"
          onClick={() => setMenuOpen((o) => !o)}
        >
          {t("menu")}
        </button>
        <div
          id="site-menu"
          className={`site-menu${menuOpen ? " open" : ""}`}
          onKeyDown={(e) => {
            if (e.key === "Escape" && menuOpen) setMenuOpen(false);
          }}
        >
          <nav aria-label={t("nav.mainMenu")}>
            <ul>
              {user && (
                <li>
                  <NavLink to="/chat">{t("nav.chat")}</NavLink>
                </li>
              )}
              <li>
                <NavLink to="/help">{t("nav.help")}</NavLink>
              </li>
              {user && (
                <li>
                  <NavLink to="/account">{t("nav.account")}</NavLink>
                </li>
              )}
              {staff && (
                <li>
                  <NavLink to="/admin">{t("nav.admin")}</NavLink>
                </li>
              )}
            </ul>
          </nav>
          <div className="header-actions">
            <LanguageSwitch />
            {user ? (
              <button type="button" onClick={() => void signOut().then(() => navigate("/login"))}>
                {t("nav.signOut")}
              </button>
            ) : (
              <Link to="/login">{t("nav.signIn")}</Link>
            )}
          </div>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}
