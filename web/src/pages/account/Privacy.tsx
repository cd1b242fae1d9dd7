import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router-dom";
import { api, errorMessage } from "../../api/client";
import { session } from "../../auth/session";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { ACCOUNT_DELETED } from "../LoginPage";
import { downloadExport, useConsents, useUpdateConsents, type Consents, type Export } from "./privacyApi";

type Kind = "data_processing" | "marketing" | "analytics";
const KINDS: Kind[] = ["data_processing", "marketing", "analytics"];

/** The consents, each a switch; every change is recorded with the policy version in force. */
export function ConsentSettings() {
  const { t } = useTranslation("account");
  const consents = useConsents();
  const update = useUpdateConsents();
  // The choice being saved, set in the change handler itself: the mutation's own pending state
  // reaches React a tick later, and until then a controlled checkbox would flip back.
  const [saving, setSaving] = useState<Partial<Record<Kind, boolean>> | null>(null);
  const shown = (kind: Kind, data: Consents): boolean => saving?.[kind] ?? data[kind];
  const change = (kind: Kind, value: boolean) => {
    const choice = { [kind]: value };
    setSaving(choice);
    update.mutate(choice, { onSettled: () => setSaving(null) });
  };
  return (
    <section className="account-card" aria-labelledby="account-consents">
      <h2 id="account-consents">{t("consents.title")}</h2>
      {consents.isPending && <p role="status">{t("common:loading")}</p>}
      {consents.isError && (
        <p role="alert" className="error">
          {errorMessage(consents.error, t("saveFailed"))}
        </p>
      )}
      {consents.data && (
        <>
          {KINDS.map((kind) => (
            <div className="field" key={kind}>
              <label className="check">
                <input
                  type="checkbox"
                  checked={shown(kind, consents.data)}
                  disabled={saving !== null}
                  aria-describedby={`consent-${kind}-hint`}
                  onChange={(e) => change(kind, e.target.checked)}
                />
                <span>{t(`consents.${kind}`)}</span>
              </label>
              <small id={`consent-${kind}-hint`}>{t(`consents.${kind}Hint`)}</small>
            </div>
          ))}
          {!consents.data.data_processing && (
            <p role="alert" className="error">
              {t("consents.chatStopped")}
            </p>
          )}
          <p className="muted">{t("consents.policy", { version: consents.data.policy_version })}</p>
        </>
      )}
      <p role="status">{update.isSuccess ? t("consents.saved") : ""}</p>
      {update.isError && (
        <p role="alert" className="error">
          {errorMessage(update.error, t("saveFailed"))}
        </p>
      )}
      <p>
        <Link to="/privacy">{t("consents.privacyLink")}</Link>
      </p>
    </section>
  );
}

const EXPORT_KEY = ["privacy", "export"] as const;

/** "Download my data": starts an export, follows it until it is ready, then offers the ZIP. */
export function DataExport() {
  const { t, i18n } = useTranslation("account");
  const queryClient = useQueryClient();
  const [exportId, setExportId] = useState<string | null>(null);
  const current = useQuery({
    queryKey: [...EXPORT_KEY, exportId],
    enabled: exportId !== null,
    queryFn: async () => {
      const { data, error } = await api.GET("/api/v1/privacy/export/{export_id}", {
        params: { path: { export_id: exportId ?? "" } },
      });
      if (error || !data) throw error ?? new Error("No answer");
      return data;
    },
    refetchInterval: (query) => {
      const status = query.state.data?.status;
      return status === "queued" || status === "running" ? 1000 : false;
    },
  });
  const start = useMutation({
    mutationFn: async () => {
      const { data, error } = await api.POST("/api/v1/privacy/export");
      if (error || !data) throw error ?? new Error("No answer");
      return data;
    },
    onSuccess: (data: Export) => {
      queryClient.setQueryData([...EXPORT_KEY, data.id], data);
      setExportId(data.id);
    },
    onError: (error) => {
      // One is already being prepared: follow that one.
      const running = (error as { export_id?: string } | null)?.export_id;
      if (running) setExportId(running);
    },
  });
  const download = useMutation({ mutationFn: downloadExport });
  const exp = current.data;
  const preparing = start.isPending || exp?.status === "queued" || exp?.status === "running";
  const expires = exp?.expires_at ? new Date(exp.expires_at).toLocaleDateString(i18n.language) : "";
  return (
    <section className="account-card" aria-labelledby="account-export">
      <h2 id="account-export">{t("export.title")}</h2>
      <p>{t("export.intro")}</p>
      <div className="account-actions">
        <button type="button" className="secondary" disabled={preparing} onClick={() => start.mutate()}>
          {t("export.start")}
        </button>
      </div>
      <div aria-live="polite">
        {preparing && <p role="status">{t("export.preparing")}</p>}
        {exp?.status === "failed" && (
          <p role="alert" className="error">
            {t("export.failed")}
          </p>
        )}
        {exp?.download_url && (
          <p>
            <button type="button" onClick={() => download.mutate(exp)} disabled={download.isPending}>
              {t("export.download")}
            </button>{" "}
            <small>{t("export.expires", { date: expires })}</small>
          </p>
        )}
      </div>
      {start.isError && !(start.error as { export_id?: string } | null)?.export_id && (
        <p role="alert" className="error">
          {errorMessage(start.error, t("export.failed"))}
        </p>
      )}
      {download.isError && (
        <p role="alert" className="error">
          {errorMessage(download.error, t("export.failed"))}
        </p>
      )}
    </section>
  );
}

/** "Delete my account": confirmed with the password, then everything goes and the user is
 * signed out. */
export function DeleteAccount() {
  const { t } = useTranslation("account");
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [open, setOpen] = useState(false);
  const [password, setPassword] = useState("");
  const erase = useMutation({
    mutationFn: async () => {
      const { error } = await api.DELETE("/api/v1/users/me", { body: { current_password: password } });
      if (error) throw error;
    },
    onSuccess: () => {
      sessionStorage.setItem(ACCOUNT_DELETED, "1");
      session.clear();
      queryClient.clear();
      void navigate("/login", { replace: true });
    },
  });
  const wrong = (erase.error as { error?: string } | null)?.error === "forbidden";
  function close() {
    setOpen(false);
    setPassword("");
    erase.reset();
  }
  return (
    <section className="account-card" aria-labelledby="account-delete">
      <h2 id="account-delete">{t("delete.title")}</h2>
      <p>{t("delete.intro")}</p>
      <div className="account-actions">
        <button type="button" className="danger" onClick={() => setOpen(true)}>
          {t("delete.start")}
        </button>
      </div>
      <ConfirmDialog
        open={open}
        title={t("delete.confirmTitle")}
        confirmLabel={t("delete.confirm")}
        busy={erase.isPending || password === ""}
        error={erase.isError ? (wrong ? t("delete.wrongPassword") : errorMessage(erase.error, t("saveFailed"))) : null}
        onConfirm={() => erase.mutate()}
        onCancel={close}
      >
        <p>{t("delete.warning")}</p>
        <label>
          {t("password.current")}
          <input
            type="password"
            value={password}
            autoComplete="current-password"
            onChange={(e) => setPassword(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && password) erase.mutate();
            }}
          />
        </label>
      </ConfirmDialog>
    </section>
  );
}
