import { useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { useNavigate } from "react-router-dom";
import { errorMessage } from "../../api/client";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { ConversationItem } from "./ConversationItem";
import { useConversationList, useDeleteConversation, useUpdateConversation, type Conversation, type StatusFilter } from "./queries";

interface Props {
  id: string;
  currentId: number | null;
  open: boolean;
  onClose(): void;
}

/** Wait until the user stops typing before searching. */
function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea, [tabindex]:not([tabindex="-1"])';

/** Keep Tab inside the open drawer (a phone's overlay): from its last control to its first, and back. */
export function trapTab(container: HTMLElement, e: { shiftKey: boolean; preventDefault(): void }) {
  const items = [...container.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((el) => el.offsetParent !== null || el === document.activeElement);
  if (items.length === 0) return;
  const first = items[0]!;
  const last = items[items.length - 1]!;
  const current = document.activeElement;
  if (e.shiftKey && (current === first || !container.contains(current))) {
    e.preventDefault();
    last.focus();
  } else if (!e.shiftKey && (current === last || !container.contains(current))) {
    e.preventDefault();
    first.focus();
  }
}

export function ConversationSidebar({ id, currentId, open, onClose }: Props) {
  const { t } = useTranslation("chat");
  const navigate = useNavigate();
  const [search, setSearch] = useState("");
  const [status, setStatus] = useState<StatusFilter>("active");
  const q = useDebounced(search.trim(), 250);
  const list = useConversationList(q, status);
  const update = useUpdateConversation();
  const remove = useDeleteConversation();
  const [deleting, setDeleting] = useState<Conversation | null>(null);
  const sentinel = useRef<HTMLDivElement>(null);
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = list;

  // Infinite scroll: the next page loads when the end of the list comes into view.
  useEffect(() => {
    const el = sentinel.current;
    if (!el || !hasNextPage || typeof IntersectionObserver === "undefined") return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && !isFetchingNextPage) void fetchNextPage();
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, [hasNextPage, isFetchingNextPage, fetchNextPage]);

  // On a phone the list is an overlay: focus goes into it, and Escape closes it.
  const newButton = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (open) newButton.current?.focus();
  }, [open]);

  const items = list.data?.pages.flatMap((p) => p.items) ?? [];
  const actionError = update.error ?? remove.error;

  async function confirmDelete() {
    if (!deleting) return;
    const gone = deleting.id;
    try {
      await remove.mutateAsync(gone);
      setDeleting(null);
      if (gone === currentId) navigate("/chat", { replace: true });
    } catch {
      setDeleting(null);
    }
  }

  return (
    <aside
      id={id}
      className={`chat-sidebar${open ? " open" : ""}`}
      aria-label={t("conversations")}
      onKeyDown={(e) => {
        if (!open || deleting !== null) return;
        if (e.key === "Escape") {
          e.preventDefault();
          onClose();
        } else if (e.key === "Tab") trapTab(e.currentTarget, e);
      }}
    >
      <button type="button" className="secondary sidebar-close" onClick={onClose}>
        {t("hideConversations")}
      </button>
      <button
        ref={newButton}
        type="button"
        className="new-conversation"
        onClick={() => {
          onClose();
          navigate("/chat");
        }}
      >
        {t("newConversation")}
      </button>
      <div className="sidebar-filters">
        <label className="visually-hidden" htmlFor={`${id}-search`}>
          {t("searchLabel")}
        </label>
        <input id={`${id}-search`} type="search" value={search} placeholder={t("searchPlaceholder")} onChange={(e) => setSearch(e.target.value)} />
        <label className="visually-hidden" htmlFor={`${id}-status`}>
          {t("show")}
        </label>
        <select id={`${id}-status`} value={status} onChange={(e) => setStatus(e.target.value as StatusFilter)}>
          <option value="active">{t("active")}</option>
          <option value="archived">{t("archived")}</option>
        </select>
      </div>
      {actionError && (
        <p role="alert" className="error">
          {errorMessage(actionError, t("actionFailed"))}
        </p>
      )}
      {list.isPending ? (
        <p role="status">{t("loadingConversations")}</p>
      ) : list.isError ? (
        <div role="alert" className="error">
          <p>{errorMessage(list.error, t("listFailed"))}</p>
          <button type="button" className="secondary" onClick={() => void list.refetch()}>
            {t("retry")}
          </button>
        </div>
      ) : items.length === 0 ? (
        <p className="empty">{q ? t("noMatches") : status === "archived" ? t("noArchived") : t("noConversations")}</p>
      ) : (
        <ul className="conversation-list">
          {items.map((c) => (
            <ConversationItem
              key={c.id}
              conversation={c}
              onOpen={onClose}
              onRename={(title) => update.mutateAsync({ id: c.id, title }).catch(() => undefined)}
              onArchive={(is_archived) => update.mutate({ id: c.id, is_archived })}
              onDelete={() => setDeleting(c)}
            />
          ))}
        </ul>
      )}
      <div ref={sentinel} className="sentinel" aria-hidden="true" />
      {isFetchingNextPage && <p role="status">{t("loadingMore")}</p>}
      {hasNextPage && !isFetchingNextPage && (
        <button type="button" className="secondary load-more" onClick={() => void fetchNextPage()}>
          {t("loadMore")}
        </button>
      )}
      <ConfirmDialog
        open={deleting !== null}
        title={t("deleteTitle")}
        confirmLabel={t("delete")}
        busy={remove.isPending}
        onCancel={() => setDeleting(null)}
        onConfirm={() => void confirmDelete()}
      >
        <p>{t("deleteBody", { title: deleting?.title || t("untitled") })}</p>
      </ConfirmDialog>
    </aside>
  );
}
