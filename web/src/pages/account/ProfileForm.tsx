import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import type { User } from "../../auth/AuthProvider";
import { formError, useUpdateMe } from "./api";

/** Name and username. What the user typed stays in the form if saving fails. */
export function ProfileForm({ user }: { user: User }) {
  const { t } = useTranslation("account");
  const update = useUpdateMe();
  const [firstName, setFirstName] = useState(user.first_name ?? "");
  const [lastName, setLastName] = useState(user.last_name ?? "");
  const [username, setUsername] = useState(user.username);
  const changed =
    firstName.trim() !== (user.first_name ?? "") ||
    lastName.trim() !== (user.last_name ?? "") ||
    username.trim() !== user.username;

  function submit(event: FormEvent) {
    event.preventDefault();
    update.mutate({ first_name: firstName.trim() || null, last_name: lastName.trim() || null, username: username.trim() });
  }

  const labels = { first_name: t("profile.firstName"), last_name: t("profile.lastName"), username: t("profile.username") };
  return (
    <section className="account-card" aria-labelledby="account-profile">
      <h2 id="account-profile">{t("profile.title")}</h2>
      <p className="account-email">
        {t("profile.email")}: <strong>{user.email}</strong>
      </p>
      <form onSubmit={submit}>
        <div className="row">
          <label>
            {t("profile.firstName")}
            <input value={firstName} onChange={(e) => setFirstName(e.target.value)} autoComplete="given-name" maxLength={100} />
          </label>
          <label>
            {t("profile.lastName")}
            <input value={lastName} onChange={(e) => setLastName(e.target.value)} autoComplete="family-name" maxLength={100} />
          </label>
        </div>
        <div className="field">
          <label>
            {t("profile.username")}
            <input
              value={username}
              onChange={(e) => setUsername(e.target.value)}
              autoComplete="username"
              required
              maxLength={50}
              aria-describedby="account-username-hint"
            />
          </label>
          <small id="account-username-hint">{t("profile.usernameHint")}</small>
        </div>
        {update.isError && (
          <p role="alert" className="error">
            {formError(update.error, labels, t("saveFailed"))}
          </p>
        )}
        <div className="account-actions">
          <button type="submit" disabled={update.isPending || !changed}>
            {update.isPending ? t("saving") : t("common:save")}
          </button>
          <span role="status">{update.isSuccess && !changed ? t("profile.saved") : ""}</span>
        </div>
      </form>
    </section>
  );
}
