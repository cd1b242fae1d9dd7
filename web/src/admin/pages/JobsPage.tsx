import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router-dom";
import { api, errorMessage, type Schemas } from "../../api/client";
import { QueryState } from "../QueryState";

type JobState = Schemas["JobState"];
const STATES: JobState[] = ["queued", "running", "failed", "complete"];
const PAGE = 25;
const KEY = ["admin", "jobs"] as const;

/** Background jobs (administrators only): the queue's jobs by state, newest first; one job's
 * arguments, result and traceback; a failed job queued again with one click. The status filter,
 * the page and the open job live in the address (?status=failed&job=KEY). */
export default function JobsPage() {
  const { t, i18n } = useTranslation("admin");
  const [params, setParams] = useSearchParams();
  const status = STATES.find((s) => s === params.get("status"));
  const offset = Math.max(0, Number(params.get("offset")) || 0);
  const open = params.get("job");
  const queryClient = useQueryClient();

  const jobs = useQuery({
    queryKey: [...KEY, "list", status, offset],
    queryFn: async () => {
      const { data, error } = await api.GET("/api/v1/admin/jobs", { params: { query: { status, offset, limit: PAGE } } });
      if (error || !data) throw error ?? new Error("empty response");
      return data;
    },
    placeholderData: keepPreviousData,
  });
  const detail = useQuery({
    queryKey: [...KEY, "one", open],
    enabled: open !== null,
    queryFn: async () => {
      const { data, error } = await api.GET("/api/v1/admin/jobs/{key}", { params: { path: { key: open ?? "" } } });
      if (error || !data) throw error ?? new Error("empty response");
      return data;
    },
  });
  const retry = useMutation({
    mutationFn: async (key: string) => {
      const { data, error } = await api.POST("/api/v1/admin/jobs/{key}/retry", { params: { path: { key } } });
      if (error || !data) throw error ?? new Error("empty response");
      return data;
    },
    onSuccess: (job) => {
      queryClient.setQueryData([...KEY, "one", job.key], job);
      void queryClient.invalidateQueries({ queryKey: [...KEY, "list"] });
    },
  });

  function go(next: Record<string, string | undefined>) {
    const merged = new URLSearchParams(params);
    for (const [k, v] of Object.entries(next)) {
      if (v === undefined || v === "") merged.delete(k);
      else merged.set(k, v);
    }
    setParams(merged);
  }
  const when = (iso: string | null | undefined) =>
    iso ? new Date(iso).toLocaleString(i18n.language, { dateStyle: "medium", timeStyle: "medium" }) : "—";
  const counts = jobs.data?.counts;

  return (
    <>
      <h1>{t("jobs.title")}</h1>
      <p className="admin-muted">{t("jobs.intro")}</p>
      <div className="admin-filters">
        <label>
          {t("jobs.status")}
          <select value={status ?? ""} onChange={(e) => go({ status: e.target.value, offset: undefined })}>
            <option value="">{t("jobs.all")}</option>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {t(`jobs.states.${s}`)}
                {counts ? ` (${counts[s]})` : ""}
              </option>
            ))}
          </select>
        </label>
      </div>
      <QueryState
        query={jobs}
        failed={t("jobs.loadFailed")}
        empty={(jobs.data?.items.length ?? 0) === 0}
        emptyText={status ? t("jobs.noMatch") : t("jobs.empty")}
      >
        {(page) => (
          <>
            <div className="admin-table-wrap">
              <table className="admin-table">
                <caption>{t("jobs.caption", { count: page.total })}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t("jobs.key")}</th>
                    <th scope="col">{t("jobs.function")}</th>
                    <th scope="col">{t("jobs.status")}</th>
                    <th scope="col">{t("jobs.attempts")}</th>
                    <th scope="col">{t("jobs.queuedAt")}</th>
                    <th scope="col" className="wide-only">
                      {t("jobs.error")}
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {page.items.map((job) => (
                    <tr key={job.key}>
                      <th scope="row">
                        <button type="button" className="link" aria-pressed={open === job.key} onClick={() => go({ job: job.key })}>
                          {job.key}
                        </button>
                      </th>
                      <td>
                        <code>{job.function}</code>
                      </td>
                      <td>{t(`jobs.states.${job.status}`)}</td>
                      <td>
                        {job.attempts} / {job.retries}
                      </td>
                      <td>{when(job.queued_at)}</td>
                      <td className="wide-only">{job.error ?? "—"}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <div className="form-actions">
              <button type="button" className="secondary" disabled={offset === 0} onClick={() => go({ offset: String(Math.max(0, offset - PAGE)) })}>
                {t("jobs.newer")}
              </button>
              <button type="button" className="secondary" disabled={offset + PAGE >= page.total} onClick={() => go({ offset: String(offset + PAGE) })}>
                {t("jobs.older")}
              </button>
            </div>
          </>
        )}
      </QueryState>
      {open !== null && (
        <section aria-label={t("jobs.detail")} className="admin-panel">
          <h2>{open}</h2>
          <QueryState query={detail} failed={t("jobs.detailFailed")} empty={false} emptyText="">
            {(job) => (
              <>
                <dl className="admin-facts">
                  <dt>{t("jobs.function")}</dt>
                  <dd>
                    <code>{job.function}</code>
                  </dd>
                  <dt>{t("jobs.status")}</dt>
                  <dd>{t(`jobs.states.${job.status}`)}</dd>
                  <dt>{t("jobs.attempts")}</dt>
                  <dd>
                    {job.attempts} / {job.retries}
                  </dd>
                  <dt>{t("jobs.queuedAt")}</dt>
                  <dd>{when(job.queued_at)}</dd>
                  <dt>{t("jobs.startedAt")}</dt>
                  <dd>{when(job.started_at)}</dd>
                  <dt>{t("jobs.completedAt")}</dt>
                  <dd>{when(job.completed_at)}</dd>
                  <dt>{t("jobs.arguments")}</dt>
                  <dd>
                    <code>{JSON.stringify(job.arguments)}</code>
                  </dd>
                  {job.result !== null && job.result !== undefined && (
                    <>
                      <dt>{t("jobs.result")}</dt>
                      <dd>
                        <code>{JSON.stringify(job.result)}</code>
                      </dd>
                    </>
                  )}
                </dl>
                {job.traceback && (
                  <>
                    <h3>{t("jobs.traceback")}</h3>
                    <pre className="admin-pre" tabIndex={0}>
                      {job.traceback}
                    </pre>
                  </>
                )}
                <div className="form-actions">
                  {job.status === "failed" && (
                    <button type="button" disabled={retry.isPending} onClick={() => retry.mutate(job.key)}>
                      {t("jobs.retry")}
                    </button>
                  )}
                  <button type="button" className="secondary" onClick={() => go({ job: undefined })}>
                    {t("jobs.close")}
                  </button>
                </div>
                {retry.isSuccess && retry.data.key === job.key && <p role="status">{t("jobs.retried")}</p>}
                {retry.isError && (
                  <p role="alert" className="admin-error">
                    {errorMessage(retry.error, t("jobs.retryFailed"))}
                  </p>
                )}
              </>
            )}
          </QueryState>
        </section>
      )}
    </>
  );
}
