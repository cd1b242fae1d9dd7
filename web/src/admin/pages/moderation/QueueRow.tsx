import { useId, useState } from "react";
import { useTranslation } from "react-i18next";
import type { Schemas } from "../../../api/client";

export type QueueItem = Schemas["QueueItem"];
export type Decision = Schemas["ModerationDecision"];

export const DECISIONS: Decision[] = ["dismiss", "confirm", "suspend_user"];

interface Props {
  item: QueueItem;
  /** Decisions offered: none once reviewed, unless an administrator may overrule. */
  decisions: Decision[];
  busy: boolean;
  onDecide(decision: Decision, note: string): void;
}

/** One flagged message. Its text is the user's own and is rendered as text (React escapes it),
 * never as HTML or Markdown. */
export function QueueRow({ item, decisions, busy, onDecide }: Props) {
  const { t, i18n } = useTranslation("admin");
  const [note, setNote] = useState("");
  const noteId = useId();
  const date = (iso: string) => new Date(iso).toLocaleString(i18n.language, { dateStyle: "medium", timeStyle: "short" });
  const author = item.author;
  const review = item.review;
  return (
    <tr data-message-id={item.message_id}>
      <td className="moderation-text">
        <p className="moderation-message">{item.text}</p>
        <small className="admin-muted">
          {t("moderation.flaggedOn", { date: date(item.created_at) })} · {t(`moderation.sources.${item.source}`, { defaultValue: item.source })}
        </small>
        {item.flag_note && <small className="moderation-note">{t("moderation.flagNote", { note: item.flag_note })}</small>}
      </td>
      <td>
        {author ? (
          <>
            <span className="user-email">{author.email}</span>
            {author.username !== author.email && <small>{author.username}</small>}
            <small>
              {t(`roles.${author.role}`)} · {t(`userStatus.${author.status}`)}
            </small>
          </>
        ) : (
          <small>{t("moderation.noAuthor")}</small>
        )}
      </td>
      <td>
        <ul className="moderation-categories">
          {item.categories.map((c) => (
            <li key={c} className="status-badge">
              {c}
            </li>
          ))}
        </ul>
      </td>
      <td>
        {review && (
          <p className="moderation-review">
            <strong>{t(`moderation.decisions.${review.decision}`)}</strong>
            <small>
              {t("moderation.reviewedBy", { who: review.reviewer_username ?? t("moderation.formerStaff"), date: date(review.created_at) })}
            </small>
            {review.note && <small className="moderation-note">{review.note}</small>}
          </p>
        )}
        {decisions.length > 0 && (
          <div className="moderation-actions">
            <label htmlFor={noteId} className="visually-hidden">
              {t("moderation.noteFor", { id: item.message_id })}
            </label>
            <input id={noteId} type="text" value={note} maxLength={2000} placeholder={t("moderation.notePlaceholder")} onChange={(e) => setNote(e.target.value)} />
            <div className="row-actions">
              {decisions.map((d) => (
                <button key={d} type="button" className={d === "suspend_user" ? "danger" : d === "dismiss" ? "secondary" : undefined} disabled={busy} onClick={() => onDecide(d, note)}>
                  {t(`moderation.actions.${d}`)}
                </button>
              ))}
            </div>
          </div>
        )}
      </td>
    </tr>
  );
}
