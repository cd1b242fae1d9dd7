import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router-dom";
import { api, errorMessage } from "../../../api/client";
import { useAuth } from "../../../auth/AuthProvider";
import { ConfirmDialog } from "../../../components/ConfirmDialog";
import { describeChange, isLoss, needsConfirmation, ROLES, STATUSES, USERS_KEY, type Change, type Role, type Status } from "./UserRow";

type Dialog = { kind: "change"; change: Change } | { kind: "logout" } | { kind: "erase" };

/** /admin/users/<id>: who the account is, what it has used, and what an administrator can do to
 * it: change its role or status, sign it out everywhere, erase it (typing its email first). */
export function UserDetail() {
  const { t, i18n } = useTranslation("admin");
  const { user: me } = useAuth();
  const { userId } = useParams();
  const id = Number(userId);
  const valid = Number.isInteger(id) && id > 0;
  const queryClient = useQueryClient();
  const key = [...USERS_KEY, "detail", id] as const;
  const detail = useQuery({
    queryKey: key,
    enabled: valid,
    queryFn: async () => {
      const { data, error } = await api.GET("/api/v1/admin/users/{user_id}", { params: { path: { user_id: id } } });
      if (error || !data) throw error ?? new Error("empty response");
      return data;
    },
  });
  const [dialog, setDialog] = useState<Dialog | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [typed, setTyped] = useState("");
  const [erased, setErased] = useState<string | null>(null);

  const path = { params: { path: { user_id: id } } };
  const afterChange = (message: string) => {
    setDialog(null);
    setDone(message);
    void queryClient.invalidateQueries({ queryKey: USERS_KEY });
  };
  const update = useMutation({
    mutationFn: async (change: Change) => {
      const { data, error } = await api.PATCH("/api/v1/admin/users/{user_id}", { ...path, body: change });
      if (error || !data) throw error ?? new Error("empty response");
      return data;
    },
    onMutate: () => setDone(null),
    onSuccess: (data) => afterChange(t("users.updated", { email: data.email, role: t(`roles.${data.role}`), status: t(`userStatus.${data.status}`) })),
  });
  const logout = useMutation({
    mutationFn: async () => {
      const { error } = await api.POST("/api/v1/admin/users/{user_id}/logout", path);
      if (error) throw error;
    },
    onMutate: () => setDone(null),
    onSuccess: () => afterChange(t("userDetail.loggedOut", { email: detail.data?.email })),
  });
  const erase = useMutation({
    mutationFn: async () => {
      const { error } = await api.DELETE("/api/v1/admin/users/{user_id}", path);
      if (error) throw error;
    },
    onSuccess: () => {
      setDialog(null);
      setErased(detail.data?.email ?? "");
      queryClient.removeQueries({ queryKey: key });
      void queryClient.invalidateQueries({ queryKey: USERS_KEY });
    },
  });

  const back = (
    <p className="admin-back">
      <Link to="/admin/users">← {t("userDetail.back")}</Link>
    </p>
  );
  if (erased !== null) {
    return (
      <>
        {back}
        <h1>{t("userDetail.erasedTitle")}</h1>
        <p className="admin-success" role="status">
          {t("users.erased", { email: erased })}
        </p>
      </>
    );
  }
  if (!valid || detail.isError) {
    return (
      <>
        {back}
        <h1>{t("userDetail.notFoundTitle")}</h1>
        <p role="alert" className="error">
          {valid ? errorMessage(detail.error, t("userDetail.loadFailed")) : t("userDetail.notFound")}
        </p>
      </>
    );
  }
  const user = detail.data;
  if (!user) return <p role="status">{t("common:loading")}</p>;

  const self = user.id === me?.id;
  const busy = update.isPending || logout.isPending || erase.isPending;
  const when = (iso: string | null | undefined) =>
    iso ? new Date(iso).toLocaleString(i18n.language, { dateStyle: "medium", timeStyle: "short" }) : t("userDetail.never");
  const number = (n: number) => n.toLocaleString(i18n.language);
  const name = [user.first_name, user.last_name].filter(Boolean).join(" ");

  const propose = (change: Change) => {
    update.reset();
    if (needsConfirmation(user, change)) setDialog({ kind: "change", change });
    else update.mutate(change);
  };
  function close() {
    update.reset();
    logout.reset();
    erase.reset();
    setTyped("");
    setDialog(null);
  }

  const mutationFor = dialog?.kind === "logout" ? logout : dialog?.kind === "erase" ? erase : update;
  return (
    <>
      {back}
      <div className="admin-title">
        <h1 className="user-email">{user.email}</h1>
        <Link to={`/admin/audit?target_type=user&target_id=${user.id}`}>{t("userDetail.auditLink")}</Link>
      </div>
      <div aria-live="polite">{done && <p className="admin-success">{done}</p>}</div>
      {update.isError && dialog === null && (
        <p className="error" role="alert">
          {errorMessage(update.error)}
        </p>
      )}
      <div className="user-detail">
        <section className="admin-panel" aria-labelledby="profile-heading">
          <h2 id="profile-heading">{t("userDetail.profile")}</h2>
          <dl className="detail-list">
            <dt>{t("userDetail.username")}</dt>
            <dd>{user.username}</dd>
            <dt>{t("userDetail.name")}</dt>
            <dd>{name || "—"}</dd>
            <dt>{t("userDetail.kind")}</dt>
            <dd>{user.is_guest ? t("users.guest") : t("userDetail.account")}</dd>
            <dt>{t("userDetail.language")}</dt>
            <dd>
              {user.language} · {user.timezone}
            </dd>
            <dt>{t("users.joined")}</dt>
            <dd>{when(user.created_at)}</dd>
            <dt>{t("userDetail.lastLogin")}</dt>
            <dd>{when(user.last_login_at)}</dd>
            <dt>{t("userDetail.consents")}</dt>
            <dd>
              {(["gdpr_consent", "data_processing_consent", "marketing_consent", "analytics_consent"] as const)
                .filter((c) => user[c])
                .map((c) => t(`userDetail.consent.${c}`))
                .join(", ") || "—"}
            </dd>
          </dl>
        </section>
        <section className="admin-panel" aria-labelledby="usage-heading">
          <h2 id="usage-heading">{t("userDetail.usage")}</h2>
          <dl className="detail-list">
            <dt>{t("userDetail.conversations")}</dt>
            <dd>{number(user.usage.conversations)}</dd>
            <dt>{t("userDetail.messages")}</dt>
            <dd>{number(user.usage.messages)}</dd>
            <dt>{t("userDetail.feedback")}</dt>
            <dd>{number(user.usage.feedback_given)}</dd>
            <dt>{t("userDetail.votes")}</dt>
            <dd>{number(user.usage.faq_votes)}</dd>
            <dt>{t("userDetail.tokens")}</dt>
            <dd>{number(user.usage.total_tokens)}</dd>
            <dt>{t("userDetail.lastActivity")}</dt>
            <dd>{when(user.usage.last_activity_at)}</dd>
          </dl>
        </section>
      </div>
      <section className="admin-panel" aria-labelledby="access-heading">
        <h2 id="access-heading">{t("userDetail.access")}</h2>
        {self && <p className="admin-muted">{t("users.you")}</p>}
        <div className="form-grid">
          <div className="field">
            <label htmlFor="user-role">{t("users.role")}</label>
            <select id="user-role" value={user.role} disabled={busy || self} onChange={(e) => propose({ role: e.target.value as Role })}>
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {t(`roles.${r}`)}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="user-status">{t("users.status")}</label>
            <select id="user-status" value={user.status} disabled={busy || self} onChange={(e) => propose({ status: e.target.value as Status })}>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {t(`userStatus.${s}`)}
                </option>
              ))}
            </select>
          </div>
        </div>
        <div className="form-actions">
          <button type="button" className="secondary" disabled={busy || self} onClick={() => setDialog({ kind: "logout" })}>
            {t("userDetail.forceLogout")}
          </button>
          <button type="button" className="danger push-right" disabled={busy || self} onClick={() => setDialog({ kind: "erase" })}>
            {t("userDetail.erase")}
          </button>
        </div>
      </section>
      <ConfirmDialog
        open={dialog !== null}
        title={dialog?.kind === "logout" ? t("userDetail.logoutTitle") : dialog?.kind === "erase" ? t("users.eraseTitle") : t("users.confirmTitle")}
        confirmLabel={dialog?.kind === "logout" ? t("userDetail.forceLogout") : dialog?.kind === "erase" ? t("users.eraseConfirm") : t("users.confirm")}
        tone={dialog?.kind === "change" && !isLoss(user, dialog.change) ? "normal" : "danger"}
        busy={mutationFor.isPending || (dialog?.kind === "erase" && typed.trim().toLowerCase() !== user.email)}
        error={mutationFor.isError ? errorMessage(mutationFor.error) : null}
        onConfirm={() => {
          if (dialog?.kind === "change") update.mutate(dialog.change);
          else if (dialog?.kind === "logout") logout.mutate();
          else if (dialog?.kind === "erase") erase.mutate();
        }}
        onCancel={close}
      >
        {dialog?.kind === "change" && <p>{describeChange(t, user, dialog.change)}</p>}
        {dialog?.kind === "change" && "status" in dialog.change && <p>{t("users.signedOut")}</p>}
        {dialog?.kind === "logout" && <p>{t("userDetail.logoutBody", { email: user.email })}</p>}
        {dialog?.kind === "erase" && (
          <>
            <p>{t("users.eraseWarning", { email: user.email })}</p>
            <label htmlFor="erase-confirm">{t("userDetail.typeEmail", { email: user.email })}</label>
            <input id="erase-confirm" type="text" autoComplete="off" spellCheck={false} value={typed} onChange={(e) => setTyped(e.target.value)} />
          </>
        )}
      </ConfirmDialog>
    </>
  );
}
