import { useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { NavLink } from "react-router-dom";
import type { Conversation, SearchMatch } from "./queries";

/** Where a search matched in the conversation's messages: the text around it, the match marked. */
export function MatchSnippet({ match }: { match: SearchMatch }) {
  const { t } = useTranslation("chat");
  return (
    <span className="conversation-snippet">
      <span className="visually-hidden">{match.message_type === "user" ? t("snippetYou") : t("snippetReply")} </span>
      {match.before}
      {match.match && <mark>{match.match}</mark>}
      {match.after}
    </span>
  );
}

interface Props {
  conversation: Conversation;
  onRename(title: string): Promise<unknown>;
  onArchive(archived: boolean): void;
  onDelete(): void;
  onOpen(): void;
}

export function ConversationItem({ conversation: c, onRename, onArchive, onDelete, onOpen }: Props) {
  const { t } = useTranslation("chat");
  const title = c.title || t("untitled");
  const [editing, setEditing] = useState(false);
  const [menu, setMenu] = useState(false);
  const [value, setValue] = useState(title);
  const input = useRef<HTMLInputElement>(null);
  const menuButton = useRef<HTMLButtonElement>(null);
  const done = useRef(false);

  useEffect(() => {
    if (editing) input.current?.select();
  }, [editing]);

  function startRename() {
    setValue(c.title ?? "");
    setMenu(false);
    done.current = false;
    setEditing(true);
  }

  function finish(save: boolean) {
    if (done.current) return;
    done.current = true;
    const next = value.trim();
    setEditing(false);
    if (save && next && next !== c.title) void onRename(next);
    setTimeout(() => menuButton.current?.focus(), 0);
  }

  return (
    <li className="conversation-item">
      {editing ? (
        <input
          ref={input}
          className="rename-input"
          aria-label={t("renameLabel")}
          value={value}
          maxLength={255}
          onChange={(e) => setValue(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter") {
              e.preventDefault();
              finish(true);
            } else if (e.key === "Escape") {
              e.preventDefault();
              finish(false);
            }
          }}
          onBlur={() => finish(true)}
        />
      ) : (
        <NavLink to={`/chat/${c.id}`} className="conversation-link" onClick={onOpen}>
          <span className="conversation-title">{title}</span>
          {c.match && <MatchSnippet match={c.match} />}
          {c.last_message_at && (
            <small>
              <time dateTime={c.last_message_at}>{new Date(c.last_message_at).toLocaleDateString()}</time>
            </small>
          )}
        </NavLink>
      )}
      {!editing && (
        <button
          ref={menuButton}
          type="button"
          className="icon-button"
          aria-expanded={menu}
          aria-label={t("actionsFor", { title })}
          onClick={() => setMenu((m) => !m)}
        >
          <span aria-hidden="true">⋯</span>
        </button>
      )}
      {menu && !editing && (
        <div className="conversation-actions">
          <button type="button" className="secondary" onClick={startRename}>
            {t("rename")}
          </button>
          <button
            type="button"
            className="secondary"
            onClick={() => {
              setMenu(false);
              onArchive(!c.is_archived);
            }}
          >
            {c.is_archived ? t("unarchive") : t("archive")}
          </button>
          <button type="button" className="secondary danger-text" onClick={onDelete}>
            {t("delete")}
          </button>
        </div>
      )}
    </li>
  );
}
