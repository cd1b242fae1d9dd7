import { useTranslation } from "react-i18next";
import type { Expectation, HandoffState } from "./handoff";

/** What the user is honestly told while waiting for a person. */
export function ExpectationText({ expectation }: { expectation?: Expectation | null }) {
  const { t } = useTranslation("chat");
  if (!expectation) return null;
  const when =
    expectation.kind === "closed"
      ? t("handoff.closed", { hours: expectation.opening_hours, tz: expectation.timezone })
      : t("handoff.within", { minutes: expectation.minutes ?? 0 });
  return (
    <>
      {when} {expectation.email ? t("handoff.email") : t("handoff.stay")}
    </>
  );
}

interface Props {
  state?: HandoffState;
  onRequest(): void;
  pending: boolean;
  failed: boolean;
}

/** Who answers this conversation, and the "Talk to a person" button while the assistant does. */
export function HandoffBar({ state, onRequest, pending, failed }: Props) {
  const { t } = useTranslation("chat");
  if (!state) return null;
  const status = state.status;
  return (
    <div className={`handoff-bar handoff-${status}`} role="status" aria-live="polite">
      {status === "waiting_for_agent" && (
        <p>
          <strong>{t("handoff.waiting")}</strong> <ExpectationText expectation={state.expectation} />
        </p>
      )}
      {status === "with_agent" && (
        <p>
          <strong>{t("handoff.withAgent", { name: state.agent_name ?? "" })}</strong>
        </p>
      )}
      {(status === "bot" || status === "resolved") && (
        <p>
          <span className="handoff-text">{status === "resolved" ? t("handoff.resolved") : t("handoff.assistant")}</span>{" "}
          <button type="button" className="secondary talk-to-person" disabled={pending} onClick={onRequest}>
            {t("handoff.talk")}
          </button>
        </p>
      )}
      {failed && <p className="chat-error">{t("handoff.failed")}</p>}
    </div>
  );
}
