import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";
import { useContentLanguage, useSearch } from "./api";
import { ContactUs } from "./ContactUs";
import { FaqLinks, LoadError, Loading } from "./parts";

/** Results of the help center's search (the API's hybrid search over published FAQs, the same
 * the chat retrieves with), its "did you mean", and a way to a person. */
export function SearchResults({ q }: { q: string }) {
  const { t } = useTranslation("help");
  const content = useContentLanguage();
  const search = useSearch(q, content.language, content.ready);
  const suggestion = search.data?.suggestion;

  let body;
  if (search.isError) body = <LoadError error={search.error} onRetry={() => void search.refetch()} />;
  else if (!content.ready || search.isPending) body = <Loading />;
  else if (search.data.items.length === 0)
    body = (
      <div className="help-empty">
        <p>{t("search.noResults", { q })}</p>
        <p>
          <Link to="/help">{t("search.browseInstead")}</Link>
        </p>
      </div>
    );
  else body = <FaqLinks items={search.data.items} />;

  return (
    <>
      <section aria-labelledby="help-results" aria-busy={search.isFetching}>
        <h2 id="help-results">{t("search.results")}</h2>
        {suggestion && (
          <p className="help-suggestion">
            {t("search.didYouMean")}{" "}
            <Link to={`/help?q=${encodeURIComponent(suggestion)}`}>
              <strong>{suggestion}</strong>
            </Link>
          </p>
        )}
        <p role="status" className="visually-hidden">
          {search.isSuccess ? t("search.resultCount", { count: search.data.items.length }) : ""}
        </p>
        {body}
      </section>
      {search.isSuccess && <ContactUs topic={q} />}
    </>
  );
}
