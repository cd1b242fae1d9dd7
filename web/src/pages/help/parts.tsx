// Small pieces the help center's pages share.
import { useState, type FormEvent, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router-dom";
import { errorMessage } from "../../api/client";
import { excerpt } from "./api";
import { useDocumentMeta } from "./useDocumentMeta";

export function SearchBox({ initial = "" }: { initial?: string }) {
  const { t } = useTranslation("help");
  const navigate = useNavigate();
  const [q, setQ] = useState(initial);
  function submit(event: FormEvent) {
    event.preventDefault();
    const text = q.trim();
    navigate(text ? `/help?q=${encodeURIComponent(text)}` : "/help");
  }
  return (
    <form role="search" className="help-search" onSubmit={submit} aria-label={t("search.label")}>
      <label htmlFor="help-search-input" className="visually-hidden">
        {t("search.label")}
      </label>
      <input
        id="help-search-input"
        type="search"
        name="q"
        value={q}
        onChange={(e) => setQ(e.target.value)}
        placeholder={t("search.placeholder")}
        maxLength={500}
        autoComplete="off"
        enterKeyHint="search"
      />
      <button type="submit">{t("search.submit")}</button>
    </form>
  );
}

export interface FaqLinkItem {
  id: number;
  slug: string | null;
  question: string;
  answer: string;
}

/** FAQs as links to their pages, each with a short plain-text excerpt of its answer. */
export function FaqLinks({ items, excerpt: withExcerpt = true }: { items: FaqLinkItem[]; excerpt?: boolean }) {
  return (
    <ul className="faq-links">
      {items
        .filter((f) => f.slug)
        .map((f) => (
          <li key={f.id}>
            <Link to={`/help/${f.slug}`}>{f.question}</Link>
            {withExcerpt && <p>{excerpt(f.answer)}</p>}
          </li>
        ))}
    </ul>
  );
}

export function Breadcrumbs({ children }: { children: ReactNode[] }) {
  const { t } = useTranslation("help");
  const items = children.filter(Boolean);
  return (
    <nav aria-label={t("breadcrumbs")} className="breadcrumbs">
      <ol>
        {items.map((item, i) => (
          <li key={i}>{item}</li>
        ))}
      </ol>
    </nav>
  );
}

export function Loading() {
  const { t } = useTranslation();
  return (
    <p role="status" className="help-loading">
      {t("loading")}
    </p>
  );
}

export function LoadError({ error, onRetry }: { error: unknown; onRetry: () => void }) {
  const { t } = useTranslation(["help", "common"]);
  return (
    <div role="alert" className="help-error">
      <p>{errorMessage(error, t("help:loadError"))}</p>
      <button type="button" onClick={onRetry}>
        {t("common:retry")}
      </button>
    </div>
  );
}

export function LanguageFallbackNotice() {
  const { t } = useTranslation("help");
  return <p className="notice">{t("languageFallback")}</p>;
}

export function HelpNotFound({ what = "page" }: { what?: "page" | "faq" | "category" }) {
  const { t } = useTranslation("help");
  useDocumentMeta({ title: `${t("notFound.title")} · ${t("title")}` });
  return (
    <section className="help-not-found">
      <h1>{t("notFound.title")}</h1>
      <p>{t(`notFound.${what}`)}</p>
      <SearchBox />
      <p>
        <Link to="/help">{t("backToHelp")}</Link>
      </p>
    </section>
  );
}
