import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router-dom";
import { findCategory, useCategories, useCategoryFaqs, useContentLanguage } from "./api";
import { Breadcrumbs, FaqLinks, HelpNotFound, LanguageFallbackNotice, LoadError, Loading, SearchBox } from "./parts";
import { useDocumentMeta } from "./useDocumentMeta";

/** One category's FAQs (its subcategories' included), a page at a time. */
export function CategoryPage() {
  const { t } = useTranslation("help");
  const slug = useParams().categorySlug ?? "";
  const content = useContentLanguage();
  const categories = useCategories();
  const found = categories.data ? findCategory(categories.data, slug) : undefined;
  const faqs = useCategoryFaqs(slug, content.language, content.ready && found !== undefined);
  useDocumentMeta({
    title: found ? `${found.category.name} · ${t("title")}` : undefined,
    description: found?.category.description ?? undefined,
    canonicalPath: found ? `/help/c/${found.category.slug}` : undefined,
  });

  if (categories.isError) return <LoadError error={categories.error} onRetry={() => void categories.refetch()} />;
  if (categories.isPending) return <Loading />;
  if (!found) return <HelpNotFound what="category" />;
  const { category, parent } = found;
  const items = faqs.data?.pages.flatMap((p) => p.items) ?? [];

  return (
    <article className="help-category">
      <Breadcrumbs>
        {[
          <Link key="home" to="/help">
            {t("title")}
          </Link>,
          parent && (
            <Link key="parent" to={`/help/c/${parent.slug}`}>
              {parent.name}
            </Link>
          ),
          <span key="here" aria-current="page">
            {category.name}
          </span>,
        ]}
      </Breadcrumbs>
      <h1>{category.name}</h1>
      {category.description && <p className="lead">{category.description}</p>}
      {category.children.length > 0 && (
        <nav aria-label={t("subcategories")} className="subcategories">
          <ul>
            {category.children.map((c) => (
              <li key={c.id}>
                <Link to={`/help/c/${c.slug}`}>{c.name}</Link>
              </li>
            ))}
          </ul>
        </nav>
      )}
      {content.fallback && <LanguageFallbackNotice />}
      {faqs.isError ? (
        <LoadError error={faqs.error} onRetry={() => void faqs.refetch()} />
      ) : faqs.isPending ? (
        <Loading />
      ) : items.length === 0 ? (
        <p className="help-empty">{t("emptyCategory")}</p>
      ) : (
        <>
          <FaqLinks items={items} />
          {faqs.hasNextPage && (
            <button
              type="button"
              className="secondary"
              disabled={faqs.isFetchingNextPage}
              onClick={() => void faqs.fetchNextPage()}
            >
              {faqs.isFetchingNextPage ? t("common:loading") : t("showMore")}
            </button>
          )}
        </>
      )}
      <section aria-labelledby="help-category-search" className="help-aside">
        <h2 id="help-category-search">{t("search.notFoundHere")}</h2>
        <SearchBox />
      </section>
    </article>
  );
}
