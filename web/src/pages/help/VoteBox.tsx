import { useTranslation } from "react-i18next";
import { errorMessage } from "../../api/client";
import { useAuth } from "../../auth/AuthProvider";
import { keptVote, useVote, type Faq } from "./api";
import { ContactUs } from "./ContactUs";

/** "Was this helpful?" Anyone may answer: an account votes once, a visitor once per device
 * (the API limits votes per address too). After "No", a way to a person. */
export function VoteBox({ faq }: { faq: Faq }) {
  const { t } = useTranslation("help");
  const { user } = useAuth();
  const vote = useVote(faq, Boolean(user));
  const given = vote.data?.helpful ?? (user ? undefined : keptVote(faq.id));

  return (
    <section className="help-vote" aria-labelledby="help-vote-title">
      <h2 id="help-vote-title">{t("vote.question")}</h2>
      <div className="help-vote-buttons">
        <button type="button" className="secondary" aria-pressed={given === true} disabled={vote.isPending} onClick={() => vote.mutate(true)}>
          {t("vote.yes")}
        </button>
        <button type="button" className="secondary" aria-pressed={given === false} disabled={vote.isPending} onClick={() => vote.mutate(false)}>
          {t("vote.no")}
        </button>
      </div>
      <p role="status" className="help-vote-status">
        {vote.data ? (vote.data.helpful ? t("vote.thanksHelpful") : t("vote.thanksNotHelpful")) : ""}
      </p>
      {vote.isError && (
        <p role="alert" className="error">
          {errorMessage(vote.error, t("vote.failed"))}
        </p>
      )}
      {given === false && <ContactUs topic={faq.question} />}
    </section>
  );
}
