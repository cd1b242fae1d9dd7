import { useEffect, useMemo, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router-dom";
import { errorMessage } from "../../api/client";
import { Composer, type ComposerHandle } from "./Composer";
import { downloadMarkdown, useFollowLatest, usePopularQuestions } from "./extras";
import { agentName, useHandoff } from "./handoff";
import { HandoffBar } from "./HandoffBar";
import { ConversationSidebar } from "./ConversationSidebar";
import { mergeMessages, MessageList } from "./MessageList";
import { messagesOf, useConversation } from "./queries";
import { isActive, useChat } from "./useChat";
import "./chat.css";

/** Conversations icon (three lines), drawn: phones and headless browsers may lack symbol fonts. */
function ListIcon() {
  return (
    <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false">
      <path fill="currentColor" d="M3 6h18v2H3zm0 5h18v2H3zm0 5h18v2H3z" />
    </svg>
  );
}

function ExportMenu({ conversationId }: { conversationId: number }) {
  const { t } = useTranslation("chat");
  const [open, setOpen] = useState(false);
  const [failed, setFailed] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  const close = () => {
    setOpen(false);
    button.current?.focus();
  };
  return (
    <div
      className="export-menu no-print"
      onKeyDown={(e) => {
        if (e.key === "Escape" && open) {
          e.stopPropagation();
          close();
        }
      }}
    >
      <button ref={button} type="button" className="secondary" aria-expanded={open} aria-controls="export-actions" onClick={() => setOpen((o) => !o)}>
        {t("export")}
      </button>
      {open && (
        <div id="export-actions" className="export-actions">
          <button
            type="button"
            className="secondary"
            onClick={() => {
              setFailed(false);
              downloadMarkdown(conversationId).then(close, () => setFailed(true));
            }}
          >
            {t("exportMarkdown")}
          </button>
          <button
            type="button"
            className="secondary"
            onClick={() => {
              close();
              window.print();
            }}
          >
            {t("exportPdf")}
          </button>
        </div>
      )}
      {failed && (
        <p role="alert" className="error">
          {t("exportFailed")}
        </p>
      )}
    </div>
  );
}

export default function ChatPage() {
  const { t, i18n } = useTranslation("chat");
  const params = useParams();
  const navigate = useNavigate();
  const parsed = Number(params.conversationId);
  const conversationId = Number.isInteger(parsed) && parsed > 0 ? parsed : null;
  const conversation = useConversation(conversationId);
  const chat = useChat(conversationId, (id) => navigate(`/chat/${id}`, { replace: true }));
  const [sidebarOpen, setSidebarOpen] = useState(false);
  const toggle = useRef<HTMLButtonElement>(null);
  const composer = useRef<ComposerHandle>(null);

  const stored = useMemo(() => messagesOf(conversation.data), [conversation.data]);
  const live = chat.live && chat.live.conversationId === conversationId ? chat.live : null;
  const bubbles = mergeMessages(stored, live);
  const streaming = isActive(live?.phase);
  const title = conversation.data?.pages[0]?.title;
  const lastAgentReply = useMemo(() => [...stored].reverse().find((m) => agentName(m) !== null)?.id, [stored]);
  const handoff = useHandoff(conversationId, lastAgentReply);
  const empty = bubbles.length === 0 && !(conversationId !== null && conversation.isPending);
  const popular = usePopularQuestions(i18n.language, empty && conversationId === null);

  // The stored history caught up with a finished answer: drop the live copy.
  const { settle, resume } = chat;
  useEffect(() => {
    if (!live || isActive(live.phase) || live.messageId === undefined) return;
    const row = stored.find((m) => m.id === live.messageId);
    if (!row) return;
    const caughtUp = live.final ? row.status === live.final.status && row.content === live.final.content : row.status !== "streaming";
    if (caughtUp) settle();
  }, [live, stored, settle]);

  // Opened (or reloaded) while an answer was still being written: follow it.
  const last = stored[stored.length - 1];
  useEffect(() => {
    if (conversationId && last?.message_type === "assistant" && last.status === "streaming" && !live) resume(last.id, conversationId);
  }, [conversationId, last?.id, last?.status, last?.message_type, live, resume]);

  // Open at the newest message and keep it in view while it arrives, unless the user scrolled up
  // to read (then "Jump to latest" brings them back). Older pages loading above change nothing.
  const lastBubble = bubbles[bubbles.length - 1];
  const { atBottom, toBottom } = useFollowLatest(
    `${bubbles.length}:${lastBubble?.key}:${lastBubble?.content.length ?? 0}:${lastBubble?.live ?? ""}`,
    conversationId,
  );

  useEffect(() => {
    document.title = `${title || t("title")} · Helpline`;
  }, [title, t]);

  const notFound = conversation.isError && (conversation.error as { error?: string }).error === "not_found";
  const send = (text: string) => {
    toBottom();
    return chat.send(text);
  };
  const closeSidebar = () => setSidebarOpen(false);
  // The drawer closed: the focus goes back to its button (once the thread is no longer inert).
  const wasOpen = useRef(false);
  useEffect(() => {
    if (wasOpen.current && !sidebarOpen) toggle.current?.focus();
    wasOpen.current = sidebarOpen;
  }, [sidebarOpen]);

  return (
    <div className={`chat-page${sidebarOpen ? " drawer-open" : ""}`}>
      <ConversationSidebar id="chat-sidebar" currentId={conversationId} open={sidebarOpen} onClose={closeSidebar} />
      {sidebarOpen && <div className="drawer-backdrop" aria-hidden="true" onClick={closeSidebar} />}
      <section className="chat-thread" aria-labelledby="chat-title" inert={sidebarOpen || undefined}>
        <div className="chat-topbar">
          <button
            ref={toggle}
            type="button"
            className="secondary sidebar-toggle no-print"
            aria-expanded={sidebarOpen}
            aria-controls="chat-sidebar"
            onClick={() => setSidebarOpen((o) => !o)}
          >
            <ListIcon />
            <span className="visually-hidden">{sidebarOpen ? t("hideConversations") : t("showConversations")}</span>
          </button>
          <h1 id="chat-title" className="chat-title">
            {conversationId === null ? t("newConversation") : title || t("untitled")}
          </h1>
          {conversationId !== null && bubbles.length > 0 && <ExportMenu conversationId={conversationId} />}
        </div>
        {conversationId !== null && conversation.isPending ? (
          <p role="status">{t("loadingMessages")}</p>
        ) : notFound ? (
          <div className="empty">
            <p>{t("conversationMissing")}</p>
            <Link to="/chat">{t("newConversation")}</Link>
          </div>
        ) : conversation.isError ? (
          <div role="alert" className="error">
            <p>{errorMessage(conversation.error, t("loadFailed"))}</p>
            <button type="button" className="secondary" onClick={() => void conversation.refetch()}>
              {t("retry")}
            </button>
          </div>
        ) : (
          <>
            {conversation.hasNextPage && (
              <button
                type="button"
                className="secondary load-earlier no-print"
                disabled={conversation.isFetchingNextPage}
                onClick={() => void conversation.fetchNextPage()}
              >
                {conversation.isFetchingNextPage ? t("loadingMore") : t("loadEarlier")}
              </button>
            )}
            {bubbles.length === 0 ? (
              <div className="chat-empty">
                <h2>{t("emptyTitle")}</h2>
                <p>{t("emptyBody")}</p>
                {(popular.data?.length ?? 0) > 0 && (
                  <section className="suggestions" aria-labelledby="chat-suggestions">
                    <h3 id="chat-suggestions">{t("suggestions")}</h3>
                    <ul>
                      {popular.data!.map((q) => (
                        <li key={q.id}>
                          <button type="button" className="secondary" disabled={streaming} onClick={() => void send(q.question)}>
                            {q.question}
                          </button>
                        </li>
                      ))}
                    </ul>
                  </section>
                )}
              </div>
            ) : (
              <MessageList
                bubbles={bubbles}
                busy={streaming}
                onRetry={(id) => conversationId && void chat.retry(id, conversationId)}
                onRephrase={() => composer.current?.focus()}
                onTalkToPerson={() => handoff.request()}
                onEdit={(text) => composer.current?.setText(text)}
              />
            )}
          </>
        )}
        <div className="composer-dock no-print">
          {!atBottom && bubbles.length > 0 && (
            <button type="button" className="secondary jump-latest" onClick={() => toBottom(true)}>
              <span aria-hidden="true">↓ </span>
              {t("jumpToLatest")}
            </button>
          )}
          <p className="visually-hidden" role="status" aria-live="polite">
            {live?.phase === "waiting" ? t("typing") : live?.phase === "reconnecting" ? t("reconnecting") : ""}
          </p>
          {conversationId !== null && !notFound && (
            <HandoffBar state={handoff.state} onRequest={() => handoff.request()} pending={handoff.pending} failed={handoff.failed} />
          )}
          {chat.error && (
            <p role="alert" className="chat-error">
              {chat.error}
            </p>
          )}
          {!notFound && <Composer draftId={conversationId ?? "new"} onSend={send} onStop={chat.stop} streaming={streaming} handle={composer} />}
        </div>
      </section>
    </div>
  );
}
