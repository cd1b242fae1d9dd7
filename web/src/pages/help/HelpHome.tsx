import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router-dom";
import { categoryIds, useCategories, useContentLanguage, useFaqIndex, type Category, type Faq } from "./api";
import { FaqLinks, LanguageFallbackNotice, LoadError, Loading, SearchBox } from "./parts";
import { SearchResults } from "./SearchResults";
import { useDocumentMeta } from "./useDocumentMeta";

const HIGHLIGHTS = 5;

function countFor(category: Category, counts: Map<number, number>): number {
  return categoryIds(category).reduce((sum, id) => sum + (counts.get(id) ?? 0), 0);
}

function CategoryCards({ categories, faqs }: { categories: Category[]; faqs: Faq[] }) {
  const { t } = useTranslation("help");
  const counts = new Map<number, number>();
  for (const f of faqs) if (f.category_id != null) counts.set(f.category_id, (counts.get(f.category_id) ?? 0) + 1);
  const shown = categories.filter((c) => countFor(c, counts) > 0);
  if (shown.length === 0) return null;
  return (
    <section aria-labelledby="help-categories">
      <h2 id="help-categories">{t("categories")}</h2>
      <ul className="category-cards">
        {shown.map((c) => (
          <li key={c.id}>
            <Link to={`/help/c/${c.slug}`}>
              <span className="category-name">{c.name}</span>
              <span className="category-count">{t("faqCount", { count: countFor(c, counts) })}</span>
            </Link>
            {c.description && <p>{c.description}</p>}
          </li>
        ))}
      </ul>
    </section>
  );
}

function Highlights({ faqs }: { faqs: Faq[] }) {
  const { t } = useTranslation("help");
  const viewed = faqs.filter((f) => f.view_count > 0).sort((a, b) => b.view_count - a.view_count);
  // With no views yet, the knowledge base's own order (priority first) is the best guess.
  const popular = (viewed.length > 0 ? viewed : faqs).slice(0, HIGHLIGHTS);
  const when = (f: Faq) => Date.parse(f.published_at ?? f.created_at);
  const recent = [...faqs].sort((a, b) => when(b) - when(a)).slice(0, HIGHLIGHTS);
  return (
    <div className="help-highlights">
      <section aria-labelledby="help-popular">
        <h2 id="help-popular">{t("popular")}</h2>
        <FaqLinks items={popular} excerpt={false} />
      </section>
      <section aria-labelledby="help-recent">
        <h2 id="help-recent">{t("recent")}</h2>
        <FaqLinks items={recent} excerpt={false} />
      </section>
    </div>
  );
}

function Overview() {
  const { t } = useTranslation("help");
  const content = useContentLanguage();
  const categories = useCategories();
  const index = useFaqIndex(content.language, content.ready);

  if (categories.isError) return <LoadError error={categories.error} onRetry={() => void categories.refetch()} />;
  if (index.isError) return <LoadError error={index.error} onRetry={() => void index.refetch()} />;
  if (!content.ready || categories.isPending || index.isPending) return <Loading />;
  const faqs = index.data;
  if (faqs.length === 0) return <p className="help-empty">{t("emptyKnowledgeBase")}</p>;
  const hasCategories = categories.data.length > 0;
  return (
    <>
      {content.fallback && <LanguageFallbackNotice />}
      <CategoryCards categories={categories.data} faqs={faqs} />
      {hasCategories ? (
        <Highlights faqs={faqs} />
      ) : (
        <section aria-labelledby="help-all">
          <h2 id="help-all">{t("allQuestions")}</h2>
          <FaqLinks items={faqs} />
        </section>
      )}
    </>
  );
}

export function HelpHome() {
  const { t } = useTranslation("help");
  const [params] = useSearchParams();
  const q = params.get("q")?.trim() ?? "";
  useDocumentMeta({
    title: q ? `${t("search.resultsTitle", { q })} · ${t("title")}` : `${t("title")} · ${t("common:appName")}`,
    description: t("description"),
  });
  return (
    <>
      <header className="help-hero">
        <h1>{q ? t("search.resultsTitle", { q }) : t("title")}</h1>
        {!q && <p>{t("intro")}</p>}
        {/* A new key resets the box when the URL's query changes (back button, a link). */}
        <SearchBox key={q} initial={q} />
      </header>
      {q ? <SearchResults q={q} /> : <Overview />}
    </>
  );
}
