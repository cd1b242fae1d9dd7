import { useInfiniteQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router-dom";
import { api, type Schemas } from "../../api/client";
import { QueryState } from "../QueryState";

type Entry = Schemas["AuditEntry"];

// The filters live in the address (?action=auth.&target_id=7), so a user's page can link to
// their trail and a filtered view can be shared.
const FILTERS = ["action", "actor_user_id", "target_type", "target_id", "since", "until"] as const;
type Filter = (typeof FILTERS)[number];
type Filters = Partial<Record<Filter, string>>;

/** A datetime-local value (the browser's time zone) as an ISO time the API reads. */
function toIso(local: string | undefined): string | undefined {
  if (!local) return undefined;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** The audit log (administrators only): who did what to what, newest first, read-only. */
export default function AuditPage() {
  const { t, i18n } = useTranslation("admin");
  const [params, setParams] = useSearchParams();
  const applied: Filters = Object.fromEntries(FILTERS.flatMap((f) => (params.get(f) ? [[f, params.get(f) as string]] : [])));
  const [draft, setDraft] = useState<Filters>(applied);
  const entries = useInfiniteQuery({
    queryKey: ["admin", "audit", applied],
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) => {
      const actor = applied.actor_user_id ? Number(applied.actor_user_id) : undefined;
      const { data, error } = await api.GET("/api/v1/admin/audit", {
        params: {
          query: {
            action: applied.action,
            actor_user_id: actor !== undefined && Number.isInteger(actor) ? actor : undefined,
            target_type: applied.target_type,
            target_id: applied.target_id,
            since: toIso(applied.since),
            until: toIso(applied.until),
            cursor: pageParam,
            limit: 50,
          },
        },
      });
      if (error || !data) throw error ?? new Error("empty response");
      return data;
    },
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const rows = entries.data?.pages.flatMap((p) => p.items) ?? [];
  const filtered = Object.keys(applied).length > 0;

  function apply(e: FormEvent) {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const f of FILTERS) {
      const value = draft[f]?.trim();
      if (value) next.set(f, value);
    }
    setParams(next);
  }
  function clear() {
    setDraft({});
    setParams(new URLSearchParams());
  }
  const field = (f: Filter, type = "text", extra: Record<string, unknown> = {}) => (
    <label>
      {t(`audit.filter.${f}`)}
      <input type={type} value={draft[f] ?? ""} onChange={(e) => setDraft({ ...draft, [f]: e.target.value })} {...extra} />
    </label>
  );
  const when = (iso: string) => new Date(iso).toLocaleString(i18n.language, { dateStyle: "medium", timeStyle: "medium" });
  const who = (e: Entry) =>
    e.actor_user_id !== null ? (
      <Link to={`/admin/users/${e.actor_user_id}`}>#{e.actor_user_id}</Link>
    ) : e.actor_pseudonym ? (
      <span title={e.actor_pseudonym}>{t("audit.erased")}</span>
    ) : (
      <span className="admin-muted">{t("audit.nobody")}</span>
    );
  const what = (e: Entry) =>
    e.target_type === null ? (
      "—"
    ) : e.target_type === "user" && e.target_id && /^\d+$/.test(e.target_id) ? (
      <Link to={`/admin/users/${e.target_id}`}>
        {e.target_type} #{e.target_id}
      </Link>
    ) : (
      <span className="audit-target">
        {e.target_type} {e.target_id}
      </span>
    );

  return (
    <>
      <h1>{t("audit.title")}</h1>
      <p className="admin-muted">{t("audit.intro")}</p>
      <form className="admin-filters audit-filters" aria-label={t("audit.filtersLabel")} onSubmit={apply}>
        {field("action", "text", { placeholder: "auth.", maxLength: 100 })}
        {field("actor_user_id", "number", { min: 1, inputMode: "numeric" })}
        {field("target_type", "text", { placeholder: "user", maxLength: 50 })}
        {field("target_id", "text", { maxLength: 100 })}
        {field("since", "datetime-local")}
        {field("until", "datetime-local")}
        <div className="form-actions">
          <button type="submit">{t("audit.apply")}</button>
          {filtered && (
            <button type="button" className="secondary" onClick={clear}>
              {t("audit.clear")}
            </button>
          )}
        </div>
      </form>
      <QueryState query={entries} failed={t("audit.loadFailed")} empty={rows.length === 0} emptyText={filtered ? t("audit.noMatch") : t("audit.empty")}>
        {() => (
          <div className="admin-table-wrap">
            <table className="admin-table audit-table">
              <caption className="visually-hidden">{t("audit.caption")}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("audit.time")}</th>
                  <th scope="col">{t("audit.action")}</th>
                  <th scope="col">{t("audit.actor")}</th>
                  <th scope="col">{t("audit.target")}</th>
                  <th scope="col">{t("audit.details")}</th>
                  <th scope="col" className="wide-only">
                    {t("audit.address")}
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map((e) => (
                  <tr key={e.id}>
                    <td className="audit-time">{when(e.created_at)}</td>
                    <td>
                      <code>{e.action}</code>
                    </td>
                    <td>{who(e)}</td>
                    <td>{what(e)}</td>
                    <td className="audit-details">{e.details ? <code>{JSON.stringify(e.details)}</code> : "—"}</td>
                    <td className="wide-only">{e.ip_address ?? "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </QueryState>
      {entries.hasNextPage && (
        <button type="button" className="secondary load-more" disabled={entries.isFetchingNextPage} onClick={() => void entries.fetchNextPage()}>
          {entries.isFetchingNextPage ? t("common:loading") : t("faqs.loadMore")}
        </button>
      )}
    </>
  );
}
