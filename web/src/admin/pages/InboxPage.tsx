// The agents' inbox (human handoff): conversations handed to a person, the longest waiting first;
// claim one (exclusively: another agent's claim wins with a clear message), read it whole with the
// sources the assistant used, reply (the user sees it live), keep internal notes, use an FAQ's
// answer as a canned reply, resolve or hand back to the assistant. Polls while open.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { TFunction } from "i18next";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { api, errorMessage, type Schemas } from "../../api/client";
import { QueryState } from "../QueryState";

type View = "waiting" | "mine" | "active" | "resolved";
const VIEWS: View[] = ["waiting", "mine", "active", "resolved"];
const INBOX_KEY = ["admin", "inbox"] as const;
const POLL_MS = 3000;
type Item = Schemas["InboxItem"];
type Detail = Schemas["AgentConversation"];
type Message = Detail["messages"][number];

function waited(seconds: number, t: TFunction<"admin">): string {
  if (seconds < 60) return t("inbox.seconds", { n: seconds });
  if (seconds < 3600) return t("inbox.minutes", { n: Math.floor(seconds / 60) });
  return t("inbox.hours", { n: Math.floor(seconds / 3600), m: Math.floor((seconds % 3600) / 60) });
}

export default function InboxPage() {
  const { t } = useTranslation("admin");
  const [view, setView] = useState<View>("waiting");
  const [open, setOpen] = useState<number | null>(null);
  const queue = useQuery({
    queryKey: [...INBOX_KEY, "queue", view],
    refetchInterval: POLL_MS,
    queryFn: async () => {
      const { data, error } = await api.GET("/api/v1/support/inbox", { params: { query: { view } } });
      if (error || !data) throw error ?? new Error("empty response");
      return data.items;
    },
  });
  const items = queue.data ?? [];
  return (
    <>
      <h1>{t("inbox.title")}</h1>
      <p className="admin-muted">{t("inbox.intro")}</p>
      <div role="tablist" aria-label={t("inbox.viewsLabel")} className="moderation-tabs admin-filters">
        {VIEWS.map((name) => (
          <button
            key={name}
            type="button"
            role="tab"
            aria-selected={view === name}
            className={view === name ? undefined : "secondary"}
            onClick={() => setView(name)}
          >
            {t(`inbox.views.${name}`)}
          </button>
        ))}
      </div>
      <div className="inbox-layout">
        <div className="inbox-queue">
          <QueryState query={queue} failed={t("inbox.loadFailed")} empty={items.length === 0} emptyText={t(`inbox.empty.${view}`)}>
            {() => (
              <ul className="inbox-list">
                {items.map((item) => (
                  <QueueItem key={item.conversation_id} item={item} selected={open === item.conversation_id} onOpen={() => setOpen(item.conversation_id)} />
                ))}
              </ul>
            )}
          </QueryState>
        </div>
        {open !== null && <ConversationPanel key={open} id={open} onClose={() => setOpen(null)} />}
      </div>
    </>
  );
}

function QueueItem({ item, selected, onOpen }: { item: Item; selected: boolean; onOpen(): void }) {
  const { t } = useTranslation("admin");
  return (
    <li className={`inbox-item${selected ? " selected" : ""}`}>
      <button type="button" className="inbox-open" aria-current={selected || undefined} onClick={onOpen}>
        <strong>{item.title || t("inbox.untitled")}</strong>
        <span className="admin-muted">
          {item.is_guest ? t("inbox.guest") : item.user_name} · {t(`inbox.reasons.${item.reason ?? "user"}`)} ·{" "}
          {item.status === "waiting_for_agent" ? t("inbox.waitingFor", { time: waited(item.wait_seconds, t) }) : t(`inbox.status.${item.status}`)}
          {item.agent_name ? ` · ${item.agent_name}` : ""}
        </span>
        {item.last_message && <span className="inbox-preview">{item.last_message}</span>}
      </button>
    </li>
  );
}

function ConversationPanel({ id, onClose }: { id: number; onClose(): void }) {
  const { t } = useTranslation("admin");
  const client = useQueryClient();
  const [reply, setReply] = useState("");
  const [note, setNote] = useState("");
  const [q, setQ] = useState("");
  const [search, setSearch] = useState("");
  const detail = useQuery({
    queryKey: [...INBOX_KEY, "conversation", id],
    refetchInterval: POLL_MS,
    queryFn: async () => {
      const { data, error } = await api.GET("/api/v1/support/conversations/{conversation_id}", {
        params: { path: { conversation_id: id } },
      });
      if (error || !data) throw error ?? new Error("empty response");
      return data;
    },
  });
  const canned = useQuery({
    queryKey: [...INBOX_KEY, "canned", search, detail.data?.language],
    enabled: search.length > 0,
    queryFn: async () => {
      const { data, error } = await api.GET("/api/v1/support/canned", { params: { query: { q: search, language: detail.data?.language } } });
      if (error || !data) throw error ?? new Error("empty response");
      return data.items;
    },
  });
  const refresh = () => void client.invalidateQueries({ queryKey: INBOX_KEY });
  const act = useMutation({
    mutationFn: async (action: "claim" | "resolve" | "release") => {
      const path = `/api/v1/support/conversations/{conversation_id}/${action}` as const;
      const { data, error } = await api.POST(path, { params: { path: { conversation_id: id } } });
      if (error || !data) throw error ?? new Error("empty response");
      return data;
    },
    onSuccess: (data) => {
      client.setQueryData([...INBOX_KEY, "conversation", id], data);
      refresh();
    },
  });
  const send = useMutation({
    mutationFn: async (content: string) => {
      const { error } = await api.POST("/api/v1/support/conversations/{conversation_id}/reply", {
        params: { path: { conversation_id: id } },
        body: { content },
      });
      if (error) throw error;
    },
    onSuccess: () => {
      setReply("");
      refresh();
    },
  });
  const addNote = useMutation({
    mutationFn: async (body: string) => {
      const { error } = await api.POST("/api/v1/support/conversations/{conversation_id}/notes", {
        params: { path: { conversation_id: id } },
        body: { body },
      });
      if (error) throw error;
    },
    onSuccess: () => {
      setNote("");
      refresh();
    },
  });
  const d = detail.data;
  const mine = d?.status === "with_agent";
  const failure = act.error ?? send.error ?? addNote.error;
  return (
    <section className="inbox-panel" aria-labelledby="inbox-conversation-title">
      <div className="inbox-panel-head">
        <h2 id="inbox-conversation-title">{d?.title || t("inbox.untitled")}</h2>
        <button type="button" className="secondary" onClick={onClose}>
          {t("inbox.close")}
        </button>
      </div>
      <QueryState query={detail} failed={t("inbox.loadFailed")} empty={false} emptyText="">
        {(c: Detail) => (
          <>
            <p className="admin-muted">
              {c.is_guest ? t("inbox.guest") : c.user_name}
              {c.user_email ? ` · ${c.user_email}` : ""} · {c.language} · {t(`inbox.status.${c.status}`)}
              {c.agent_name ? ` · ${t("inbox.handledBy", { name: c.agent_name })}` : ""}
            </p>
            <div className="inbox-actions">
              {c.status === "waiting_for_agent" && (
                <button type="button" disabled={act.isPending} onClick={() => act.mutate("claim")}>
                  {t("inbox.claim")}
                </button>
              )}
              {(c.status === "waiting_for_agent" || c.status === "with_agent") && (
                <>
                  <button type="button" className="secondary" disabled={act.isPending} onClick={() => act.mutate("resolve")}>
                    {t("inbox.resolve")}
                  </button>
                  <button type="button" className="secondary" disabled={act.isPending} onClick={() => act.mutate("release")}>
                    {t("inbox.release")}
                  </button>
                </>
              )}
            </div>
            {failure && (
              <p className="error" role="alert">
                {errorMessage(failure)}
              </p>
            )}
            <ol className="inbox-messages" aria-label={t("inbox.messages")}>
              {c.messages.map((m) => (
                <InboxMessage key={m.id} m={m} />
              ))}
            </ol>
            {mine && (
              <form
                className="inbox-reply"
                onSubmit={(e: FormEvent) => {
                  e.preventDefault();
                  if (reply.trim()) send.mutate(reply.trim());
                }}
              >
                <label>
                  {t("inbox.reply")}
                  <textarea value={reply} rows={3} onChange={(e) => setReply(e.target.value)} />
                </label>
                <button type="submit" disabled={send.isPending || !reply.trim()}>
                  {t("inbox.send")}
                </button>
              </form>
            )}
            {mine && (
              <div className="inbox-canned">
                <form
                  onSubmit={(e: FormEvent) => {
                    e.preventDefault();
                    setSearch(q.trim());
                  }}
                >
                  <label>
                    {t("inbox.canned")}
                    <input type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder={t("inbox.cannedPlaceholder")} />
                  </label>
                  <button type="submit" className="secondary">
                    {t("inbox.search")}
                  </button>
                </form>
                {search && canned.data && canned.data.length === 0 && <p className="admin-muted">{t("inbox.noCanned")}</p>}
                <ul className="inbox-canned-list">
                  {(canned.data ?? []).map((r) => (
                    <li key={r.faq_id}>
                      <strong>{r.question}</strong>
                      <button type="button" className="secondary" onClick={() => setReply(r.answer)}>
                        {t("inbox.useAnswer")}
                      </button>
                    </li>
                  ))}
                </ul>
              </div>
            )}
            <section className="inbox-notes" aria-labelledby="inbox-notes-title">
              <h3 id="inbox-notes-title">{t("inbox.notes")}</h3>
              <p className="admin-muted">{t("inbox.notesHint")}</p>
              <ul>
                {c.notes.map((n) => (
                  <li key={n.id}>
                    <strong>{n.author_name ?? "?"}</strong>: {n.body}
                  </li>
                ))}
              </ul>
              <form
                onSubmit={(e: FormEvent) => {
                  e.preventDefault();
                  if (note.trim()) addNote.mutate(note.trim());
                }}
              >
                <label>
                  {t("inbox.addNote")}
                  <textarea value={note} rows={2} onChange={(e) => setNote(e.target.value)} />
                </label>
                <button type="submit" className="secondary" disabled={addNote.isPending || !note.trim()}>
                  {t("inbox.saveNote")}
                </button>
              </form>
            </section>
          </>
        )}
      </QueryState>
    </section>
  );
}

function InboxMessage({ m }: { m: Message }) {
  const { t } = useTranslation("admin");
  const meta = (m.metadata ?? {}) as {
    author?: string;
    agent?: { name?: string };
    sources?: { id: number; question: string }[];
    handoff?: { status: string; agent_name?: string | null; reason?: string | null };
  };
  if (m.message_type === "system") {
    return <li className="inbox-notice">{m.content}</li>;
  }
  const who = m.message_type === "user" ? t("inbox.user") : meta.author === "agent" ? (meta.agent?.name ?? t("inbox.agent")) : t("inbox.assistant");
  return (
    <li className={`inbox-message ${m.message_type}${meta.author === "agent" ? " agent" : ""}`}>
      <span className="inbox-who">{who}</span>
      <p>{m.content}</p>
      {meta.sources && meta.sources.length > 0 && (
        <p className="admin-muted inbox-sources">
          {t("inbox.sources")}: {meta.sources.map((s) => s.question).join(" · ")}
        </p>
      )}
    </li>
  );
}
