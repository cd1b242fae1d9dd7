import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { api, errorMessage, type Schemas } from "../../api/client";
import type { User } from "../../auth/AuthProvider";

type Scope = Schemas["Scope"];
type Created = Schemas["ApiKeyCreated"];
const KEY = ["me", "api-keys"] as const;

/** The user's keys for the OpenAI-compatible API (/v1): made with a name and scopes, the whole
 * key shown once (with a copy button), listed with their last use, revoked at once. */
export function ApiKeys({ user }: { user: User }) {
  const { t, i18n } = useTranslation("account");
  const queryClient = useQueryClient();
  const scopes: Scope[] = user.role === "user" ? ["chat", "search"] : ["chat", "search", "admin_read"];
  const [name, setName] = useState("");
  const [chosen, setChosen] = useState<Scope[]>(["chat"]);
  const [created, setCreated] = useState<Created | null>(null);
  const [copied, setCopied] = useState(false);
  const [confirming, setConfirming] = useState<number | null>(null);

  const keys = useQuery({
    queryKey: KEY,
    queryFn: async () => {
      const { data, error } = await api.GET("/api/v1/users/me/api-keys");
      if (error || !data) throw error ?? new Error("No answer");
      return data.items;
    },
  });
  const create = useMutation({
    mutationFn: async () => {
      const { data, error } = await api.POST("/api/v1/users/me/api-keys", { body: { name, scopes: chosen } });
      if (error || !data) throw error ?? new Error("No answer");
      return data;
    },
    onSuccess: (data) => {
      setCreated(data);
      setCopied(false);
      setName("");
      void queryClient.invalidateQueries({ queryKey: KEY });
    },
  });
  const revoke = useMutation({
    mutationFn: async (id: number) => {
      const { error } = await api.DELETE("/api/v1/users/me/api-keys/{key_id}", { params: { path: { key_id: id } } });
      if (error) throw error;
    },
    onSuccess: () => {
      setConfirming(null);
      void queryClient.invalidateQueries({ queryKey: KEY });
    },
  });

  function submit(e: FormEvent) {
    e.preventDefault();
    create.mutate();
  }
  async function copy(key: string) {
    try {
      await navigator.clipboard.writeText(key);
      setCopied(true);
    } catch {
      setCopied(false); // the key stays selectable in its box
    }
  }
  const when = (iso: string | null | undefined) =>
    iso ? new Date(iso).toLocaleString(i18n.language, { dateStyle: "medium", timeStyle: "short" }) : t("apiKeys.never");
  const toggle = (scope: Scope, on: boolean) =>
    setChosen((now) => (on ? [...now.filter((s) => s !== scope), scope] : now.filter((s) => s !== scope)));

  return (
    <section className="account-card api-keys" aria-labelledby="account-api-keys">
      <h2 id="account-api-keys">{t("apiKeys.title")}</h2>
      <p>{t("apiKeys.intro", { base: window.location.origin })}</p>
      <form onSubmit={submit}>
        <div className="field">
          <label htmlFor="api-key-name">{t("apiKeys.name")}</label>
          <input id="api-key-name" value={name} maxLength={100} required onChange={(e) => setName(e.target.value)} />
        </div>
        <fieldset className="api-key-scopes">
          <legend>{t("apiKeys.scopes")}</legend>
          {scopes.map((scope) => (
            <label key={scope}>
              <input type="checkbox" checked={chosen.includes(scope)} onChange={(e) => toggle(scope, e.target.checked)} />{" "}
              {t(`apiKeys.scope.${scope}`)}
            </label>
          ))}
        </fieldset>
        <div className="account-actions">
          <button type="submit" disabled={create.isPending || chosen.length === 0 || !name.trim()}>
            {t("apiKeys.create")}
          </button>
        </div>
      </form>
      {create.isError && <p role="alert" className="error">{errorMessage(create.error)}</p>}
      {created && (
        <div className="notice api-key-new" role="status">
          <p>{t("apiKeys.shownOnce", { name: created.name })}</p>
          <input aria-label={t("apiKeys.newKey")} readOnly value={created.key} onFocus={(e) => e.target.select()} />
          <div className="account-actions">
            <button type="button" onClick={() => void copy(created.key)}>
              {t("apiKeys.copy")}
            </button>
            <button type="button" className="secondary" onClick={() => setCreated(null)}>
              {t("apiKeys.done")}
            </button>
            <span>{copied ? t("apiKeys.copied") : ""}</span>
          </div>
        </div>
      )}
      {keys.isPending && <p role="status">{t("common:loading")}</p>}
      {keys.isError && <p role="alert" className="error">{errorMessage(keys.error)}</p>}
      {keys.data && keys.data.length === 0 && <p>{t("apiKeys.none")}</p>}
      {keys.data && keys.data.length > 0 && (
        <ul className="api-key-list" aria-label={t("apiKeys.list")}>
          {keys.data.map((k) => (
            <li key={k.id} aria-label={k.name}>
              <strong>{k.name}</strong> <code>hl_{k.prefix}_…</code>
              <br />
              <small>
                {k.scopes.map((s) => t(`apiKeys.scope.${s}`)).join(", ")} · {t("apiKeys.lastUsed", { when: when(k.last_used_at) })}
              </small>
              <br />
              {k.revoked_at ? (
                <small className="api-key-revoked">{t("apiKeys.revokedOn", { when: when(k.revoked_at) })}</small>
              ) : (
                confirming === k.id ? (
                  <span className="account-actions">
                    <span>{t("apiKeys.confirmRevoke")}</span>
                    <button type="button" disabled={revoke.isPending} onClick={() => revoke.mutate(k.id)}>
                      {t("apiKeys.revokeYes")}
                    </button>
                    <button type="button" className="secondary" onClick={() => setConfirming(null)}>
                      {t("apiKeys.cancel")}
                    </button>
                  </span>
                ) : (
                  <button
                    type="button"
                    className="secondary"
                    aria-label={t("apiKeys.revokeNamed", { name: k.name })}
                    onClick={() => setConfirming(k.id)}
                  >
                    {t("apiKeys.revoke")}
                  </button>
                )
              )}
            </li>
          ))}
        </ul>
      )}
      {revoke.isError && <p role="alert" className="error">{errorMessage(revoke.error)}</p>}
    </section>
  );
}
