import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useSearchParams } from "react-router-dom";
import { api, authFetch, errorMessage, type Schemas } from "../../api/client";
import { useAuth } from "../../auth/AuthProvider";
import { QueryState } from "../QueryState";
import { OriginChart, UsageChart } from "./analytics/Charts";
import { DrillDown, Transcript, figureKey } from "./analytics/DrillDown";
import { GRANULARITIES, readFigure, readFilters, type Figure } from "./analytics/params";
import { FAQS_KEY } from "./faqs/queries";

type Dashboard = Schemas["DashboardRead"];
type Group = Schemas["UnansweredGroupRead"];

/** Support analytics (staff): usage, how questions were answered, feedback, cost, the FAQs that
 * help or fail, frequent unanswered questions, and the conversations behind a figure. */
export default function AnalyticsPage() {
  const { t, i18n } = useTranslation("admin");
  const { user } = useAuth();
  const [params, setParams] = useSearchParams();
  const filters = readFilters(params);
  const figure = readFigure(params);
  const conversation = Number(params.get("conversation")) || null;
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [downloadError, setDownloadError] = useState<string | null>(null);

  function go(next: Record<string, string | undefined>) {
    // From the address bar, not `params`: two changes before a render (the two dates typed one
    // after the other) would each start from the same old `params`, and the second undo the first.
    const merged = new URLSearchParams(globalThis.location.search);
    for (const [k, v] of Object.entries(next)) {
      if (v === undefined || v === "") merged.delete(k);
      else merged.set(k, v);
    }
    setParams(merged);
  }
  const query = { from: filters.from, to: filters.to, tz: filters.tz, granularity: filters.granularity };
  const dashboard = useQuery({
    queryKey: ["admin", "analytics", "dashboard", filters],
    queryFn: async () => {
      const { data, error } = await api.GET("/api/v1/analytics/dashboard", { params: { query } });
      if (error || !data) throw error ?? new Error("empty response");
      return data as Dashboard; // JSON: the CSV form of the same route is asked with format=csv
    },
    placeholderData: keepPreviousData,
  });
  const conversations = useQuery({
    queryKey: ["admin", "analytics", "conversations", filters],
    queryFn: async () => {
      const { data, error } = await api.GET("/api/v1/analytics/conversations", { params: { query } });
      if (error || !data) throw error ?? new Error("empty response");
      return data as Schemas["ConversationsRead"];
    },
    placeholderData: keepPreviousData,
  });
  const draft = useMutation({
    mutationFn: async (group: Group) => {
      const { data, error } = await api.POST("/api/v1/faqs/unanswered/draft", { body: { ids: group.ids, language: group.language, answer: "" } });
      if (error || !data) throw error ?? new Error("empty response");
      return data;
    },
    onSuccess: (faq) => {
      queryClient.setQueryData([...FAQS_KEY, "one", faq.id], faq);
      void queryClient.invalidateQueries({ queryKey: ["admin", "unanswered"] });
      void queryClient.invalidateQueries({ queryKey: [...FAQS_KEY, "list"] });
      navigate(`/admin/faqs/${faq.id}`, { state: { saved: true } });
    },
  });

  async function download(report: "dashboard" | "conversations") {
    setDownloadError(null);
    const url = new URL(`/api/v1/analytics/${report}`, globalThis.location.origin);
    for (const [k, v] of Object.entries({ ...query, format: "csv" })) url.searchParams.set(k, v);
    const response = await authFetch(new Request(url));
    if (!response.ok) {
      setDownloadError(t("analytics.downloadFailed"));
      return;
    }
    const blob = await response.blob();
    const name = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") ?? "")?.[1] ?? `${report}.csv`;
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name;
    link.click();
    URL.revokeObjectURL(link.href);
  }

  const number = (n: number) => n.toLocaleString(i18n.language);
  const drill = (f: Figure, value: number) => (
    <button type="button" className="link" aria-pressed={figure === f} onClick={() => go({ figure: f, conversation: undefined })}>
      {number(value)}
      <span className="visually-hidden"> {t("analytics.drill.show", { figure: t(`analytics.figures.${figureKey(f)}`) })}</span>
    </button>
  );

  return (
    <>
      <h1>{t("analytics.title")}</h1>
      <p className="admin-muted">{t("analytics.intro")}</p>
      <form className="admin-filters" aria-label={t("analytics.period")} onSubmit={(e) => e.preventDefault()}>
        <label>
          {t("analytics.from")}
          <input type="date" value={filters.from} max={filters.to} onChange={(e) => go({ from: e.target.value })} />
        </label>
        <label>
          {t("analytics.to")}
          <input type="date" value={filters.to} min={filters.from} onChange={(e) => go({ to: e.target.value })} />
        </label>
        <label>
          {t("analytics.granularity")}
          <select value={filters.granularity} onChange={(e) => go({ granularity: e.target.value })}>
            {GRANULARITIES.map((g) => (
              <option key={g} value={g}>
                {t(`analytics.granularities.${g}`)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("analytics.timezone")}
          <input defaultValue={filters.tz} key={filters.tz} onBlur={(e) => go({ tz: e.target.value.trim() })} />
        </label>
        <button type="button" className="secondary" onClick={() => void download("dashboard")}>
          {t("analytics.downloadDashboard")}
        </button>
        <button type="button" className="secondary" onClick={() => void download("conversations")}>
          {t("analytics.downloadConversations")}
        </button>
      </form>
      {downloadError && (
        <p className="error" role="alert">
          {downloadError}
        </p>
      )}
      <QueryState query={dashboard} failed={t("analytics.loadFailed")} empty={false} emptyText="">
        {(d) => (
          <>
            <p className="admin-muted">
              {d.period.refreshed_until
                ? t("analytics.refreshed", { date: new Date(d.period.refreshed_until).toLocaleString(i18n.language, { dateStyle: "medium", timeStyle: "short" }) })
                : t("analytics.neverRefreshed")}
            </p>
            <KeyFigures d={d} drill={drill} number={number} />
            <div className="analytics-charts">
              <UsageChart series={d.series} />
              <OriginChart series={d.series} />
            </div>
            {figure && <DrillDown figure={figure} filters={filters} canRead={user?.role === "admin"} onOpen={(id) => go({ conversation: String(id) })} onClose={() => go({ figure: undefined, conversation: undefined })} />}
            {conversation !== null && user?.role === "admin" && <Transcript id={conversation} onClose={() => go({ conversation: undefined })} />}
            <Tables d={d} number={number} draft={(g) => draft.mutate(g)} drafting={draft.isPending} />
            {draft.isError && (
              <p className="error" role="alert">
                {errorMessage(draft.error, t("unanswered.draftFailed"))}
              </p>
            )}
          </>
        )}
      </QueryState>
      <section className="admin-panel" aria-label={t("analytics.conversations.title")}>
        <h2>{t("analytics.conversations.title")}</h2>
        <QueryState query={conversations} failed={t("analytics.loadFailed")} empty={false} emptyText="">
          {(c) => (
            <div className="analytics-columns">
              <CountTable caption={t("analytics.conversations.resolution")} rows={Object.entries(c.resolution).map(([k, v]) => [t(`analytics.resolution.${k}`), v as number])} number={number} />
              <CountTable caption={t("analytics.conversations.length")} rows={c.length.map((r) => [r.key, r.count])} number={number} />
              <CountTable caption={t("analytics.conversations.languages")} rows={c.languages.map((r) => [r.key, r.count])} number={number} />
            </div>
          )}
        </QueryState>
      </section>
    </>
  );
}

function KeyFigures({ d, drill, number }: { d: Dashboard; drill: (f: Figure, n: number) => ReactNode; number: (n: number) => string }) {
  const { t, i18n } = useTranslation("admin");
  const tt = d.totals;
  const ms = (v: number | null | undefined) => (v == null ? "—" : t("analytics.ms", { value: Math.round(v) }));
  const money = new Intl.NumberFormat(i18n.language, { style: "currency", currency: tt.currency, maximumFractionDigits: 6 });
  const rate = tt.helpful_rate == null ? "—" : `${Math.round(tt.helpful_rate * 100)} %`;
  const h = d.handoff;
  const escalation = h.escalation_rate == null ? "—" : `${Math.round(h.escalation_rate * 1000) / 10} %`;
  const seconds = (v: number | null | undefined) => (v == null ? "—" : t("analytics.minutes", { value: Math.round(v / 6) / 10 }));
  const items: [string, ReactNode][] = [
    [t("analytics.figures.activeUsers"), number(tt.active_users)],
    [t("analytics.figures.newUsers"), number(tt.new_users)],
    [t("analytics.figures.conversations"), number(tt.conversations)],
    [t("analytics.figures.messages"), number(tt.messages)],
    [t("analytics.figures.faq"), drill("faq", tt.answers_by_origin.faq)],
    [t("analytics.figures.model"), drill("model", tt.answers_by_origin.model)],
    [t("analytics.figures.refused"), drill("refused", tt.answers_by_origin.refused)],
    [t("analytics.figures.failed"), drill("failed", tt.answers_by_origin.failed)],
    [t("analytics.figures.agent"), drill("agent", tt.answers_by_origin.agent)],
    [t("analytics.figures.helpfulRate"), rate],
    [t("analytics.figures.helpful"), drill("helpful", tt.helpful)],
    [t("analytics.figures.thumbsDown"), drill("thumbs_down", tt.not_helpful)],
    [t("analytics.figures.flagged"), drill("flagged", tt.flags)],
    [t("analytics.figures.p50"), ms(tt.response_time.p50_ms)],
    [t("analytics.figures.p95"), ms(tt.response_time.p95_ms)],
    [t("analytics.figures.tokens"), number(tt.input_tokens + tt.output_tokens)],
    [t("analytics.figures.cost"), money.format(tt.estimated_cost)],
    [t("analytics.figures.escalations"), number(h.escalations)],
    [t("analytics.figures.escalationRate"), escalation],
    [t("analytics.figures.firstHumanReply"), seconds(h.first_reply_p50_seconds)],
    [t("analytics.figures.resolutionTime"), seconds(h.resolution_p50_seconds)],
  ];
  return (
    <dl className="analytics-figures" aria-label={t("analytics.keyFigures")}>
      {items.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

function CountTable({ caption, rows, number }: { caption: string; rows: [string, number][]; number: (n: number) => string }) {
  const { t } = useTranslation("admin");
  return (
    <table className="admin-table">
      <caption>{caption}</caption>
      <tbody>
        {rows.length === 0 ? (
          <tr>
            <td>{t("analytics.none")}</td>
          </tr>
        ) : (
          rows.map(([k, v]) => (
            <tr key={k}>
              <th scope="row">{k}</th>
              <td>{number(v)}</td>
            </tr>
          ))
        )}
      </tbody>
    </table>
  );
}

function Tables({ d, number, draft, drafting }: { d: Dashboard; number: (n: number) => string; draft: (g: Group) => void; drafting: boolean }) {
  const { t, i18n } = useTranslation("admin");
  const money = new Intl.NumberFormat(i18n.language, { style: "currency", currency: d.totals.currency, maximumFractionDigits: 6 });
  const faqRows = (items: Schemas["FAQFigure"][]) =>
    items.map((f) => (
      <tr key={f.faq_id}>
        <th scope="row">{f.question ? <Link to={`/admin/faqs/${f.faq_id}`}>{f.question}</Link> : t("analytics.deletedFaq", { id: f.faq_id })}</th>
        <td>{number(f.count)}</td>
      </tr>
    ));
  return (
    <>
      <div className="admin-table-wrap">
        <table className="admin-table">
          <caption>{t("analytics.models.caption")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("analytics.models.model")}</th>
              <th scope="col">{t("analytics.models.answers")}</th>
              <th scope="col">{t("analytics.models.input")}</th>
              <th scope="col">{t("analytics.models.output")}</th>
              <th scope="col">{t("analytics.models.cost")}</th>
            </tr>
          </thead>
          <tbody>
            {d.models.map((m) => (
              <tr key={m.model}>
                <th scope="row">{m.model}</th>
                <td>{number(m.answers)}</td>
                <td>{number(m.input_tokens)}</td>
                <td>{number(m.output_tokens)}</td>
                <td>{money.format(m.estimated_cost)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div className="analytics-columns">
        <table className="admin-table">
          <caption>{t("analytics.topFaqs")}</caption>
          <tbody>{d.top_faqs.length ? faqRows(d.top_faqs) : <tr><td>{t("analytics.none")}</td></tr>}</tbody>
        </table>
        <table className="admin-table">
          <caption>{t("analytics.thumbsDownFaqs")}</caption>
          <tbody>{d.thumbs_down_faqs.length ? faqRows(d.thumbs_down_faqs) : <tr><td>{t("analytics.none")}</td></tr>}</tbody>
        </table>
      </div>
      <section className="admin-panel" aria-label={t("analytics.unanswered.title")}>
        <h2>{t("analytics.unanswered.title")}</h2>
        {d.unanswered.length === 0 ? (
          <p className="admin-empty">{t("analytics.none")}</p>
        ) : (
          <ul className="unanswered-list">
            {d.unanswered.map((g) => (
              <li key={g.ids[0]}>
                <p>
                  <strong>{g.representative}</strong> <span className="admin-muted">{t("unanswered.asked", { count: g.count })} · {g.language}</span>
                </p>
                {g.examples.length > 1 && <p className="admin-muted">{g.examples.map((e) => `“${e}”`).join(" · ")}</p>}
                <p>
                  <button type="button" disabled={drafting} onClick={() => draft(g)}>
                    {t("analytics.unanswered.draft")}
                    <span className="visually-hidden">: {g.representative}</span>
                  </button>
                </p>
              </li>
            ))}
          </ul>
        )}
      </section>
    </>
  );
}
