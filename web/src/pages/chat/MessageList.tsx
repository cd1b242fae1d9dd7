import { useMemo } from "react";
import { useTranslation } from "react-i18next";
import type { Citation } from "../../components/citations";
import { CopyButton } from "../../components/CopyButton";
import { Markdown } from "../../components/Markdown";
import { Feedback, GuardNote, Sources, type Guard, type Source } from "./AnswerExtras";
import { agentName } from "./handoff";
import type { Message } from "./queries";
import { isActive, type LiveTurn } from "./useChat";

/** One bubble's worth, from the stored history or the live turn. */
export interface Bubble {
  key: string;
  role: "user" | "assistant" | "notice";
  /** A person's reply: their name. */
  agent?: string | null;
  /** A change of hands (a notice): the status it changed to and who. */
  handoff?: { status: string; agent_name?: string | null };
  id?: number;
  content: string;
  createdAt: string;
  sources: Source[];
  /** The closest articles, given with an honest "I don't know". */
  related: Source[];
  /** Set when the guard replaced the model's answer. */
  guard?: Guard | null;
  /** The user's own verdict as the server has it (stored messages). */
  feedback?: boolean | null;
  error?: string | null;
  failed?: boolean;
  refusal?: boolean;
  /** The user stopped it: `content` is what was written until then (maybe nothing). */
  stopped?: boolean;
  live?: LiveTurn["phase"];
}

function fromStored(m: Message): Bubble {
  const meta = (m.metadata ?? {}) as {
    sources?: Source[];
    related?: Source[];
    guard?: Guard;
    error?: string;
    refusal?: boolean;
    stopped?: boolean;
    handoff?: Bubble["handoff"];
  };
  return {
    key: `m${m.id}`,
    role: m.message_type === "user" ? "user" : m.message_type === "system" ? "notice" : "assistant",
    agent: agentName(m),
    handoff: meta.handoff,
    id: m.id,
    content: m.content,
    createdAt: m.created_at,
    sources: meta.sources ?? [],
    related: meta.related ?? [],
    guard: meta.guard,
    feedback: m.feedback,
    error: meta.error,
    failed: m.status === "failed" || m.status === "partial",
    refusal: meta.refusal,
    stopped: meta.stopped === true,
  };
}

function fromLive(l: LiveTurn): Bubble {
  return {
    key: `live${l.messageId ?? "-new"}`,
    role: "assistant",
    id: l.messageId,
    content: l.content,
    createdAt: l.final?.timestamp ?? l.createdAt,
    sources: l.final?.sources ?? [],
    related: l.final?.related ?? [],
    guard: l.final?.guard,
    error: l.final?.error,
    failed: l.phase === "failed" || l.final?.status === "failed" || l.final?.status === "partial",
    refusal: l.final?.flagged,
    stopped: l.phase === "stopped" || l.final?.stopped === true,
    live: l.phase,
  };
}

/** Stored messages, with the live turn laid over (or after) them. */
export function mergeMessages(stored: Message[], live: LiveTurn | null): Bubble[] {
  const out: Bubble[] = [];
  let placed = false;
  for (const m of stored) {
    if (live && m.id === live.messageId) {
      out.push(fromLive(live));
      placed = true;
    } else out.push(fromStored(m));
  }
  if (live && !placed) {
    const hasUser = live.userMessageId !== undefined && stored.some((m) => m.id === live.userMessageId);
    if (live.userText !== undefined && !hasUser)
      out.push({ key: "live-user", role: "user", content: live.userText, createdAt: live.createdAt, sources: [], related: [] });
    out.push(fromLive(live));
  }
  return out;
}

function Time({ iso }: { iso: string }) {
  const { i18n } = useTranslation();
  const date = new Date(iso);
  const sameDay = date.toDateString() === new Date().toDateString();
  const text = new Intl.DateTimeFormat(i18n.language, sameDay ? { timeStyle: "short" } : { dateStyle: "medium", timeStyle: "short" }).format(date);
  return <time dateTime={iso}>{text}</time>;
}

interface Props {
  bubbles: Bubble[];
  onRetry(messageId: number): void;
  /** Put the cursor in the message box (the next step after "Not helpful"). */
  onRephrase?(): void;
  /** Ask for a person (offered after "Not helpful"). */
  onTalkToPerson?(): void;
  /** Put the last question back in the message box, to change and send again. */
  onEdit?(text: string): void;
  busy: boolean;
}

/** Source n of an answer (the number it cites it by) -> its help-center article. */
export function citationsOf(sources: Source[], label: (n: number, title: string) => string): Map<number, Citation> {
  const out = new Map<number, Citation>();
  for (const s of sources) {
    if (s.n && s.slug) out.set(s.n, { href: `/help/${s.slug}`, title: s.question, label: label(s.n, s.question) });
  }
  return out;
}

function AnswerText({ content, sources }: { content: string; sources: Source[] }) {
  const { t } = useTranslation();
  const citations = useMemo(() => citationsOf(sources, (n, title) => t("citation", { n, title })), [sources, t]);
  return <Markdown citations={citations}>{content}</Markdown>;
}

export function MessageList({ bubbles, onRetry, onRephrase, onTalkToPerson, onEdit, busy }: Props) {
  const { t } = useTranslation("chat");
  let lastUser = -1;
  bubbles.forEach((b, i) => {
    if (b.role === "user") lastUser = i;
  });
  return (
    <ol className="messages">
      {bubbles.map((b, i) =>
        b.role === "notice" ? (
          <li key={b.key} className="handoff-notice">
            {t(`handoff.notice.${b.handoff?.status ?? "bot"}`, { name: b.handoff?.agent_name || t("handoff.someone") })}{" "}
            <Time iso={b.createdAt} />
          </li>
        ) : (
        <li key={b.key} className={`bubble ${b.role}${b.agent != null ? " agent" : ""}${b.failed ? " failed" : ""}${b.refusal ? " refusal" : ""}${b.stopped ? " stopped" : ""}`}>
          <span className="visually-hidden">{b.role === "user" ? t("you") : b.agent != null ? "" : t("assistant")}</span>
          {b.agent != null && <p className="agent-name">{t("handoff.agentLabel", { name: b.agent || t("handoff.someone") })}</p>}
          {b.role === "user" ? (
            <p className="user-text">{b.content}</p>
          ) : b.content ? (
            <AnswerText content={b.content} sources={b.sources} />
          ) : isActive(b.live) ? (
            <span className="typing-dots" aria-hidden="true">
              <span />
              <span />
              <span />
            </span>
          ) : null}
          {b.live === "reconnecting" && <p className="bubble-note">{t("reconnecting")}</p>}
          {b.stopped && !b.failed && (
            <div className="bubble-stopped">
              <p className="bubble-note">{b.content.trim() ? t("stopped") : t("stoppedEmpty")}</p>
              {b.id !== undefined && !isActive(b.live) && (
                <button type="button" className="secondary" disabled={busy} onClick={() => onRetry(b.id!)}>
                  {t("regenerate")}
                </button>
              )}
            </div>
          )}
          {b.failed && b.role === "assistant" && (
            <div className="bubble-error">
              <p role={b.live ? "alert" : undefined}>{b.error || t("answerFailed")}</p>
              {b.id !== undefined && (
                <button type="button" className="secondary" disabled={busy} onClick={() => onRetry(b.id!)}>
                  {t("retry")}
                </button>
              )}
            </div>
          )}
          {b.role === "assistant" && !isActive(b.live) && b.content.trim() !== "" && (
            <>
              <GuardNote guard={b.guard} />
              <Sources sources={b.sources} />
              <Sources sources={b.related} title={t("related")} />
            </>
          )}
          <div className="bubble-meta">
            <Time iso={b.createdAt} />
            {b.role === "user" && i === lastUser && onEdit && !busy && (
              <button type="button" className="secondary bubble-action" aria-label={t("editLabel")} onClick={() => onEdit(b.content)}>
                {t("edit")}
              </button>
            )}
            {b.role === "assistant" && b.content.trim() !== "" && !isActive(b.live) && (
              <CopyButton className="bubble-action" label={t("copyAnswer")} text={() => b.content} />
            )}
            {b.role === "assistant" && b.agent == null && b.id !== undefined && b.content && !isActive(b.live) && !b.failed && (
              <Feedback
                messageId={b.id}
                initial={b.feedback}
                articles={[...b.sources, ...b.related]}
                onRephrase={onRephrase}
                onTalkToPerson={onTalkToPerson}
              />
            )}
          </div>
        </li>
        ),
      )}
    </ol>
  );
}
