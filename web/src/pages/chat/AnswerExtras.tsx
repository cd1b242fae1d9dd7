import { useId, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";
import type { Schemas } from "../../api/client";
import { useFeedback } from "./feedback";

export type Source = Schemas["Source"];
export type Guard = Schemas["GuardAction"];

/** The FAQs the answer was built from (or, with `title`, other articles such as the closest ones
 * to a question the assistant could not answer), each a link to its help-center page. */
export function Sources({ sources, title }: { sources: Source[]; title?: string }) {
  const { t } = useTranslation("chat");
  const id = useId();
  const linked = sources.filter((s) => s.slug);
  if (linked.length === 0) return null;
  return (
    <div className="sources">
      <h3 id={id} className="sources-title">
        {title ?? t("sources")}
      </h3>
      <ol aria-labelledby={id}>
        {linked.map((s) => (
          <li key={s.id}>
            <Link to={`/help/${s.slug}`}>{s.question}</Link>
          </li>
        ))}
      </ol>
    </div>
  );
}

/** Why the reply is not the assistant's own words (the grounded-answer guard). An honest "I don't
 * know" says so itself, with its closest articles: it needs no note unless the language was why. */
export function GuardNote({ guard }: { guard?: Guard | null }) {
  const { t } = useTranslation("chat");
  if (!guard) return null;
  const language = guard.reason === "language_unsupported";
  if (guard.action !== "article" && !language) return null; // "I don't know" and a greeting speak for themselves
  const text = guard.action === "article" ? (language ? t("guardArticleLanguage") : t("guardArticle")) : t("guardLanguage");
  return <p className="bubble-note guard-note">{text}</p>;
}

/** A thumb (up, or turned down): drawn, because phones and headless browsers may lack emoji fonts. */
function Thumb({ down }: { down?: boolean }) {
  return (
    <svg className="thumb" viewBox="0 0 24 24" width="14" height="14" aria-hidden="true" focusable="false" style={down ? { transform: "rotate(180deg)" } : undefined}>
      <path
        fill="currentColor"
        d="M2 21h4V9H2v12zm20-11a2 2 0 0 0-2-2h-6.3l.95-4.57.03-.32a1.5 1.5 0 0 0-.44-1.06L13.17 1 6.59 7.59A2 2 0 0 0 6 9v10a2 2 0 0 0 2 2h9a2 2 0 0 0 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z"
      />
    </svg>
  );
}

interface FeedbackProps {
  messageId: number;
  initial?: boolean | null;
  /** Articles to offer after "Not helpful": the answer's sources and closest articles. */
  articles?: Source[];
  /** Put the cursor in the message box, to ask again in other words. */
  onRephrase?(): void;
  /** Ask for a person, when the server offers it after "Not helpful". */
  onTalkToPerson?(): void;
}

export function Feedback({ messageId, initial, articles = [], onRephrase, onTalkToPerson }: FeedbackProps) {
  const { t } = useTranslation("chat");
  const { chosen, send, pending, failed, offerHandoff } = useFeedback(messageId, initial);
  // The next step is offered when the user says so now, not for every old verdict in the history.
  const [offer, setOffer] = useState(false);
  const choose = (helpful: boolean) => {
    setOffer(!helpful);
    send(helpful);
  };
  const linked = articles.filter((a, i) => a.slug && articles.findIndex((b) => b.id === a.id) === i);
  return (
    <>
      <div className="feedback" role="group" aria-label={t("feedbackLabel")}>
        <button type="button" className="secondary" aria-pressed={chosen === true} disabled={pending} onClick={() => choose(true)}>
          <Thumb />
          {t("helpful")}
        </button>
        <button type="button" className="secondary" aria-pressed={chosen === false} disabled={pending} onClick={() => choose(false)}>
          <Thumb down />
          {t("notHelpful")}
        </button>
        <span role="status" className="feedback-status">
          {failed ? t("feedbackFailed") : chosen !== undefined ? t("feedbackThanks") : ""}
        </span>
      </div>
      {offer && chosen === false && (
        <div className="next-step">
          <p>{t("nextStep")}</p>
          <Sources sources={linked} title={t("nextStepArticles")} />
          <p>
            {t("nextStepRephrase")}{" "}
            {onRephrase && (
              <button type="button" className="secondary" onClick={onRephrase}>
                {t("rephrase")}
              </button>
            )}
          </p>
          {offerHandoff && onTalkToPerson && (
            <p>
              {t("handoff.offer")}{" "}
              <button type="button" className="secondary" onClick={onTalkToPerson}>
                {t("handoff.talk")}
              </button>
            </p>
          )}
        </div>
      )}
    </>
  );
}
