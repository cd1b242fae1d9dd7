import { useEffect, useMemo, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router-dom";
import { errorMessage } from "../../api/client";
import { Composer, type ComposerHandle } from "./Composer";
import { agentName, useHandoff } from "./handoff";
import { HandoffBar } from "./HandoffBar";
import { ConversationSidebar } from "./ConversationSidebar";
import { mergeMessages, MessageList } from "./MessageList";
import { messagesOf, useConversation } from "./queries";
import { isActive, useChat } from "./useChat";
import "./chat.css";

export default function ChatPage() {
  const { t } = useTranslation("chat");
  const params = useParams();
  const navigate = useNavigate();
  const parsed = Number(params.conversationId);
  const conversationId = Number.isInteger(parsed) && parsed > 0 ? parsed : null;
  const conversation = useConversation(conversationId);
  const chat = useChat(conversationId, (id) => navigate(`/chat/${id}`, { replace: true }));
  const [sidebarOpen, setSidebarOpen] = useState(false);
  const bottom = useRef<HTMLDivElement>(null);
  const composer = useRef<ComposerHandle>(null);

  const stored = useMemo(() => messagesOf(conversation.data), [conversation.data]);
  const live = chat.live && chat.live.conversationId === conversationId ? chat.live : null;
  const bubbles = mergeMessages(stored, live);
  const streaming = isActive(live?.phase);
  const title = conversation.data?.pages[0]?.title;
  const lastAgentReply = useMemo(() => [...stored].reverse().find((m) => agentName(m) !== null)?.id, [stored]);
  const handoff = useHandoff(conversationId, lastAgentReply);

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

  // Keep the newest text in view while it arrives, unless the user scrolled up to read.
  const lastContent = bubbles[bubbles.length - 1]?.content.length ?? 0;
  useEffect(() => {
    const el = bottom.current;
    if (!el || typeof el.scrollIntoView !== "function") return;
    const nearBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 240;
    if (nearBottom || streaming) el.scrollIntoView({ block: "end" });
  }, [bubbles.length, lastContent, streaming]);

  useEffect(() => {
    document.title = `${title || t("title")} · Helpline`;
  }, [title, t]);

  const notFound = conversation.isError && (conversation.error as { error?: string }).error === "not_found";

  return (
    <div className="chat-page">
      <button
        type="button"
        className="secondary sidebar-toggle"
        aria-expanded={sidebarOpen}
        aria-controls="chat-sidebar"
        onClick={() => setSidebarOpen((o) => !o)}
      >
        {sidebarOpen ? t("hideConversations") : t("showConversations")}
      </button>
      <ConversationSidebar id="chat-sidebar" currentId={conversationId} open={sidebarOpen} onClose={() => setSidebarOpen(false)} />
      <section className="chat-thread" aria-labelledby="chat-title">
        <h1 id="chat-title" className="chat-title">
          {conversationId === null ? t("newConversation") : title || t("untitled")}
        </h1>
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
                className="secondary load-earlier"
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
              </div>
            ) : (
              <MessageList
                bubbles={bubbles}
                busy={streaming}
                onRetry={(id) => conversationId && void chat.retry(id, conversationId)}
                onRephrase={() => composer.current?.focus()}
                onTalkToPerson={() => handoff.request()}
              />
            )}
          </>
        )}
        <div ref={bottom} />
        <div className="composer-dock">
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
          {!notFound && <Composer draftId={conversationId ?? "new"} onSend={chat.send} onStop={chat.stop} streaming={streaming} handle={composer} />}
        </div>
      </section>
    </div>
  );
}
