import { useTranslation } from "react-i18next";
import type { User } from "../../auth/AuthProvider";
import { LANGUAGES, setLanguage, type LanguageCode } from "../../i18n";
import { formError, useUpdateMe } from "./api";

/** The interface language, saved on the account so every device and the chat follow it. */
export function LanguageForm({ user }: { user: User }) {
  const { t } = useTranslation("account");
  const update = useUpdateMe();
  const saved = user.language.slice(0, 2);
  // While saving, show the choice; if it fails, the account's language comes back.
  const shown = update.isPending && update.variables.language ? update.variables.language : saved;

  function choose(code: LanguageCode) {
    update.mutate({ language: code }, { onSuccess: () => setLanguage(code) });
  }

  return (
    <section className="account-card" aria-labelledby="account-language">
      <h2 id="account-language">{t("language.title")}</h2>
      <div className="field">
        <label>
          {t("language.label")}
          <select
          value={shown}
          disabled={update.isPending}
          onChange={(e) => choose(e.target.value as LanguageCode)}
          aria-describedby="account-language-hint"
        >
          {LANGUAGES.map((l) => (
            <option key={l.code} value={l.code} lang={l.code}>
              {l.label}
            </option>
          ))}
          </select>
        </label>
        <small id="account-language-hint">{t("language.hint")}</small>
      </div>
      <p role="status">{update.isSuccess ? t("language.saved") : ""}</p>
      {update.isError && (
        <p role="alert" className="error">
          {formError(update.error, { language: t("language.label") }, t("saveFailed"))}
        </p>
      )}
    </section>
  );
}
