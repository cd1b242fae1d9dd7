import type { TFunction } from "i18next";
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";
import type { Schemas } from "../../../api/client";

export type User = Schemas["AdminUserRead"];
export type Role = Schemas["UserRole"];
export type Status = Schemas["UserStatus"];
export type Change = { role: Role } | { status: Status };

export const ROLES: Role[] = ["user", "moderator", "admin"];
export const STATUSES: Status[] = ["active", "inactive", "suspended"];
export const USERS_KEY = ["admin", "users"] as const;
const RANK: Record<Role, number> = { user: 0, moderator: 1, admin: 2 };

/** A change that takes something away is confirmed first, and so is handing out full control. */
export function needsConfirmation(user: User, change: Change): boolean {
  if ("role" in change) return RANK[change.role] < RANK[user.role] || change.role === "admin";
  return change.status !== "active";
}

export function isLoss(user: User, change: Change): boolean {
  return "status" in change ? change.status !== "active" : RANK[change.role] < RANK[user.role];
}

/** The question the confirmation asks: "Make x a Moderator?", "Set x to Suspended?". */
export function describeChange(t: TFunction, user: User, change: Change): string {
  return "role" in change
    ? t("users.confirmRole", { email: user.email, role: t(`roles.${change.role}`) })
    : t("users.confirmStatus", { email: user.email, status: t(`userStatus.${change.status}`) });
}

interface Props {
  user: User;
  self: boolean;
  busy: boolean;
  onChange(change: Change): void;
  /** Erase the account and all its data (asked to confirm first). */
  onErase(): void;
}

/** One user: who, and their role and status as selects. Your own row is read-only (the API
 * refuses to let an admin demote or suspend themselves). */
export function UserRow({ user, self, busy, onChange, onErase }: Props) {
  const { t, i18n } = useTranslation("admin");
  const name = user.username && user.username !== user.email ? user.username : null;
  const hint = self ? `user-${user.id}-self` : undefined;
  return (
    <tr>
      <td>
        <Link className="user-email" to={`/admin/users/${user.id}`}>
          {user.email}
        </Link>
        {name && <small>{name}</small>}
        {user.is_guest && <small>{t("users.guest")}</small>}
        {self && <small id={hint}>{t("users.you")}</small>}
      </td>
      <td>
        <label>
          <span className="visually-hidden">{t("users.roleOf", { email: user.email })}</span>
          <select value={user.role} disabled={busy || self} aria-describedby={hint} onChange={(e) => onChange({ role: e.target.value as Role })}>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {t(`roles.${r}`)}
              </option>
            ))}
          </select>
        </label>
      </td>
      <td>
        <label>
          <span className="visually-hidden">{t("users.statusOf", { email: user.email })}</span>
          <select value={user.status} disabled={busy || self} aria-describedby={hint} onChange={(e) => onChange({ status: e.target.value as Status })}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {t(`userStatus.${s}`)}
              </option>
            ))}
          </select>
        </label>
      </td>
      <td className="wide-only">{new Date(user.created_at).toLocaleDateString(i18n.language, { dateStyle: "medium" })}</td>
      <td>
        <button type="button" className="danger" disabled={busy || self} aria-label={t("users.eraseOf", { email: user.email })} onClick={onErase}>
          {t("users.erase")}
        </button>
      </td>
    </tr>
  );
}
