import { QueryState } from "../../QueryState";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router-dom";
import { FAQ_LANGUAGES, FAQ_STATUSES, flattenCategories, useCategories, type FaqStatus } from "../../api";
import { StatusBadge } from "./StatusBadge";
import { useFaqList, type FaqFilters } from "./queries";

function readFilters(params: URLSearchParams): FaqFilters {
  const status = params.get("status");
  return {
    status: FAQ_STATUSES.includes(status as FaqStatus) ? (status as FaqStatus) : undefined,
    category: params.get("category") || undefined,
    language: params.get("language") || undefined,
    q: params.get("q")?.trim() || undefined,
  };
}

/** The FAQ list: filters live in the address (so a filtered list can be shared or reloaded). */
export function FaqList() {
  const { t, i18n } = useTranslation("admin");
  const [params, setParams] = useSearchParams();
  const filters = readFilters(params);
  const [text, setText] = useState(filters.q ?? "");
  const categories = useCategories();
  const flat = flattenCategories(categories.data);
  const names = new Map(flat.map(({ category }) => [category.id, category.name]));
  const list = useFaqList(filters);
  const rows = list.data?.pages.flatMap((p) => p.items) ?? [];

  function setFilter(key: keyof FaqFilters, value: string) {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next, { replace: true });
  }

  function search(e: FormEvent) {
    e.preventDefault();
    setFilter("q", text.trim());
  }

  return (
    <>
      <div className="admin-title">
        <h1>{t("faqs.title")}</h1>
        <Link className="button" to="/admin/faqs/new">
          {t("faqs.new")}
        </Link>
      </div>
      <div className="admin-filters">
        <form role="search" aria-label={t("faqs.searchLabel")} onSubmit={search} className="admin-search">
          <label>
            <span className="visually-hidden">{t("faqs.searchLabel")}</span>
            <input type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder={t("faqs.searchPlaceholder")} />
          </label>
          <button type="submit" className="secondary">
            {t("faqs.search")}
          </button>
        </form>
        <label>
          {t("faqs.status")}
          <select value={filters.status ?? ""} onChange={(e) => setFilter("status", e.target.value)}>
            <option value="">{t("faqs.allStatuses")}</option>
            {FAQ_STATUSES.map((s) => (
              <option key={s} value={s}>
                {t(`status.${s}`)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("faqs.category")}
          <select value={filters.category ?? ""} onChange={(e) => setFilter("category", e.target.value)}>
            <option value="">{t("faqs.allCategories")}</option>
            {flat.map(({ category, depth }) => (
              <option key={category.id} value={String(category.id)}>
                {depth ? "— " : ""}
                {category.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("faqs.language")}
          <select value={filters.language ?? ""} onChange={(e) => setFilter("language", e.target.value)}>
            <option value="">{t("faqs.allLanguages")}</option>
            {FAQ_LANGUAGES.map((l) => (
              <option key={l} value={l}>
                {t(`languages.${l}`)}
              </option>
            ))}
          </select>
        </label>
      </div>
      {filters.q && (
        <p className="admin-muted">
          {t("faqs.searchResults", { q: filters.q })}{" "}
          <button
            type="button"
            className="link"
            onClick={() => {
              setText("");
              setFilter("q", "");
            }}
          >
            {t("faqs.clearSearch")}
          </button>
        </p>
      )}

      <QueryState query={list} failed={t("faqs.loadFailed")} empty={rows.length === 0} emptyText={filters.q || filters.status || filters.category || filters.language ? t("faqs.noMatch") : t("faqs.empty")}>
        {() => (
          <div className="admin-table-wrap">
            <table className="admin-table">
              <thead>
                <tr>
                  <th scope="col">{t("faqs.question")}</th>
                  <th scope="col">{t("faqs.status")}</th>
                  <th scope="col">{t("faqs.category")}</th>
                  <th scope="col" className="wide-only">
                    {t("faqs.language")}
                  </th>
                  <th scope="col" className="wide-only">
                    {t("faqs.updated")}
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map((f) => (
                  <tr key={f.id}>
                    <td>
                      <Link to={`/admin/faqs/${f.id}`}>{f.question}</Link>
                    </td>
                    <td>{f.status ? <StatusBadge status={f.status} /> : "—"}</td>
                    <td>{f.category_id ? (names.get(f.category_id) ?? "—") : t("faqs.uncategorised")}</td>
                    <td className="wide-only">{f.language}</td>
                    <td className="wide-only">
                      {f.updated_at || f.created_at
                        ? new Date((f.updated_at ?? f.created_at)!).toLocaleDateString(i18n.language, { dateStyle: "medium" })
                        : "—"}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </QueryState>
      {list.hasNextPage && (
        <button type="button" className="secondary load-more" disabled={list.isFetchingNextPage} onClick={() => void list.fetchNextPage()}>
          {list.isFetchingNextPage ? t("common:loading") : t("faqs.loadMore")}
        </button>
      )}
    </>
  );
}
