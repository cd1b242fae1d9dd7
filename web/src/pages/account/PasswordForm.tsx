import { useMutation } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { api } from "../../api/client";
import { useAuth, type User } from "../../auth/AuthProvider";
import { formError } from "./api";

/** Change the password. The API then ends every session, this one included, so the page signs
 * straight back in with the new password: the user stays here, other devices are signed out. */
export function PasswordForm({ user }: { user: User }) {
  const { t } = useTranslation("account");
  const { signIn } = useAuth();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [confirm, setConfirm] = useState("");
  const [mismatch, setMismatch] = useState(false);

  const change = useMutation({
    mutationFn: async () => {
      const { error } = await api.POST("/api/v1/users/me/password", {
        body: { current_password: current, new_password: next },
      });
      if (error) throw error;
      const again = await api.POST("/api/v1/auth/login", { body: { login: user.email, password: next } });
      if (again.data) await signIn(again.data);
    },
    onSuccess: () => {
      setCurrent("");
      setNext("");
      setConfirm("");
    },
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    const differs = next !== confirm;
    setMismatch(differs);
    if (differs) change.reset(); // one message at a time: the old answer no longer applies
    else change.mutate();
  }

  const labels = { current_password: t("password.current"), new_password: t("password.new") };
  const wrongCurrent = (change.error as { error?: string } | null)?.error === "forbidden";
  return (
    <section className="account-card" aria-labelledby="account-password">
      <h2 id="account-password">{t("password.title")}</h2>
      <form onSubmit={submit}>
        <label>
          {t("password.current")}
          <input
            type="password"
            value={current}
            onChange={(e) => setCurrent(e.target.value)}
            autoComplete="current-password"
            required
          />
        </label>
        <div className="field">
          <label>
            {t("password.new")}
            <input
              type="password"
              value={next}
              onChange={(e) => setNext(e.target.value)}
              autoComplete="new-password"
              required
              aria-describedby="account-password-hint"
            />
          </label>
          <small id="account-password-hint">{t("password.hint")}</small>
        </div>
        <label>
          {t("password.confirm")}
          <input
            type="password"
            value={confirm}
            onChange={(e) => setConfirm(e.target.value)}
            autoComplete="new-password"
            required
            aria-invalid={mismatch || undefined}
          />
        </label>
        {mismatch && (
          <p role="alert" className="error">
            {t("password.mismatch")}
          </p>
        )}
        {change.isError && (
          <p role="alert" className="error">
            {wrongCurrent ? t("password.wrongCurrent") : formError(change.error, labels, t("saveFailed"))}
          </p>
        )}
        <div className="account-actions">
          <button type="submit" disabled={change.isPending}>
            {change.isPending ? t("saving") : t("password.submit")}
          </button>
        </div>
        {change.isSuccess && (
          <p role="status" className="notice">
            {t("password.changed")}
          </p>
        )}
      </form>
    </section>
  );
}
