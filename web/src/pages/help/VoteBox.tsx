import { useTranslation } from "react-i18next";
import { Link, useLocation } from "react-router-dom";
import { errorMessage } from "../../api/client";
import { useAuth } from "../../auth/AuthProvider";
import { useVote, type Faq } from "./api";

/** "Was this helpful?" The API counts one vote per account, so visitors are asked to sign in. */
export function VoteBox({ faq }: { faq: Faq }) {
  const { t } = useTranslation("help");
  const { user } = useAuth();
  const location = useLocation();
  const vote = useVote(faq);

  return (
    <section className="help-vote" aria-labelledby="help-vote-title">
      <h2 id="help-vote-title">{t("vote.question")}</h2>
      {!user ? (
        <p>
          <Link to="/login" state={{ from: location.pathname }}>
            {t("vote.signIn")}
          </Link>
        </p>
      ) : vote.data ? (
        <p role="status">{vote.data.helpful ? t("vote.thanksHelpful") : t("vote.thanksNotHelpful")}</p>
      ) : (
        <div className="help-vote-buttons">
          <button type="button" className="secondary" disabled={vote.isPending} onClick={() => vote.mutate(true)}>
            {t("vote.yes")}
          </button>
          <button type="button" className="secondary" disabled={vote.isPending} onClick={() => vote.mutate(false)}>
            {t("vote.no")}
          </button>
        </div>
      )}
      {vote.isError && (
        <p role="alert" className="error">
          {errorMessage(vote.error, t("vote.failed"))}
        </p>
      )}
    </section>
  );
}
