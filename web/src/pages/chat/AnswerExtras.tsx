import { useId } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";
import type { Schemas } from "../../api/client";
import { useFeedback } from "./feedback";

export type Source = Schemas["Source"];

/** The FAQs the answer was built from, each a link to its help-center page. */
export function Sources({ sources }: { sources: Source[] }) {
  const { t } = useTranslation("chat");
  const id = useId();
  const linked = sources.filter((s) => s.slug);
  if (linked.length === 0) return null;
  return (
    <div className="sources">
      <h3 id={id} className="sources-title">
        {t("sources")}
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

export function Feedback({ messageId, initial }: { messageId: number; initial?: boolean | null }) {
  const { t } = useTranslation("chat");
  const { chosen, send, pending, failed } = useFeedback(messageId, initial);
  return (
    <div className="feedback" role="group" aria-label={t("feedbackLabel")}>
      <button type="button" className="secondary" aria-pressed={chosen === true} disabled={pending} onClick={() => send(true)}>
        <Thumb />
        {t("helpful")}
      </button>
      <button type="button" className="secondary" aria-pressed={chosen === false} disabled={pending} onClick={() => send(false)}>
        <Thumb down />
        {t("notHelpful")}
      </button>
      <span role="status" className="feedback-status">
        {failed ? t("feedbackFailed") : chosen !== undefined ? t("feedbackThanks") : ""}
      </span>
    </div>
  );
}
