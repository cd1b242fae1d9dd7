import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router-dom";
import { Markdown } from "../../components/Markdown";
import { findCategoryById, isNotFound, summary, useCategories, useFaq, useRelated, type Faq } from "./api";
import { Breadcrumbs, FaqLinks, HelpNotFound, LoadError, Loading, SearchBox } from "./parts";
import { useDocumentMeta } from "./useDocumentMeta";
import { VoteBox } from "./VoteBox";

const RELATED = 5;

/** Other published FAQs of the same category, in the FAQ's language. */
function Related({ faq }: { faq: Faq }) {
  const { t } = useTranslation("help");
  const others = useRelated(faq.category_id, faq.language.slice(0, 2), RELATED + 1);
  const related = (others.data ?? []).filter((f) => f.id !== faq.id);
  if (related.length === 0) return null;
  return (
    <section aria-labelledby="help-related" className="help-aside">
      <h2 id="help-related">{t("related")}</h2>
      <FaqLinks items={related.slice(0, RELATED)} excerpt={false} />
    </section>
  );
}

export function FaqPage() {
  const { t, i18n } = useTranslation("help");
  const slug = useParams().slug ?? "";
  const faq = useFaq(slug);
  const categories = useCategories();
  const data = faq.data;
  useDocumentMeta({
    title: data ? (data.meta_title ?? `${data.question} · ${t("title")}`) : undefined,
    description: data ? (data.meta_description ?? summary(data.answer)) : undefined,
    canonicalPath: data?.slug ? `/help/${data.slug}` : undefined,
  });

  if (faq.isError) {
    if (isNotFound(faq.error)) return <HelpNotFound what="faq" />;
    return <LoadError error={faq.error} onRetry={() => void faq.refetch()} />;
  }
  if (!data) return <Loading />;
  const found = categories.data ? findCategoryById(categories.data, data.category_id) : undefined;
  const updated = data.updated_at ?? data.published_at ?? data.created_at;

  return (
    <article className="help-faq">
      <Breadcrumbs>
        {[
          <Link key="home" to="/help">
            {t("title")}
          </Link>,
          found?.parent && (
            <Link key="parent" to={`/help/c/${found.parent.slug}`}>
              {found.parent.name}
            </Link>
          ),
          found && (
            <Link key="category" to={`/help/c/${found.category.slug}`}>
              {found.category.name}
            </Link>
          ),
        ]}
      </Breadcrumbs>
      {data.status !== "published" && (
        <p className="notice" role="note">
          {t("staffOnly", { status: t(`status.${data.status}`) })}
        </p>
      )}
      <div lang={data.language}>
        <h1>{data.question}</h1>
        <Markdown className="markdown help-answer">{data.answer}</Markdown>
      </div>
      <p className="help-updated">
        {t("updated", { date: new Date(updated).toLocaleDateString(i18n.language, { dateStyle: "long" }) })}
      </p>
      <VoteBox faq={data} />
      <Related faq={data} />
      <section aria-labelledby="help-more" className="help-aside">
        <h2 id="help-more">{t("search.anotherQuestion")}</h2>
        <SearchBox />
      </section>
    </article>
  );
}
