import { useQuery } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { api } from "../../../api/client";
import { QueryState } from "../../QueryState";
import type { Figure, Filters } from "./params";

/** The conversations behind one figure (dates, language, length; no text). An administrator may
 * open one that got a thumbs-down, read-only: the server writes that read to the audit log. */
export function DrillDown({
  figure,
  filters,
  canRead,
  onOpen,
  onClose,
}: {
  figure: Figure;
  filters: Filters;
  canRead: boolean;
  onOpen: (id: number) => void;
  onClose: () => void;
}) {
  const { t, i18n } = useTranslation("admin");
  const list = useQuery({
    queryKey: ["admin", "analytics", "drill", figure, filters],
    queryFn: async () => {
      const { data, error } = await api.GET("/api/v1/analytics/conversations/list", {
        params: { query: { figure, from: filters.from, to: filters.to, tz: filters.tz, limit: 50 } },
      });
      if (error || !data) throw error ?? new Error("empty response");
      return data;
    },
  });
  const when = (iso: string | null | undefined) =>
    iso ? new Date(iso).toLocaleString(i18n.language, { dateStyle: "medium", timeStyle: "short" }) : "—";
  const title = t("analytics.drill.title", { figure: t(`analytics.figures.${figureKey(figure)}`) });
  return (
    <section className="admin-panel" aria-label={title}>
      <h2>{title}</h2>
      <button type="button" className="secondary" onClick={onClose}>
        {t("analytics.drill.close")}
      </button>
      <QueryState query={list} failed={t("analytics.loadFailed")} empty={(list.data?.items.length ?? 0) === 0} emptyText={t("analytics.drill.empty")}>
        {(page) => (
          <div className="admin-table-wrap">
            <table className="admin-table">
              <caption>{t("analytics.drill.caption", { count: page.items.length })}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("analytics.drill.conversation")}</th>
                  <th scope="col">{t("analytics.drill.started")}</th>
                  <th scope="col">{t("analytics.drill.language")}</th>
                  <th scope="col">{t("analytics.drill.messages")}</th>
                  <th scope="col">{t("analytics.drill.actions")}</th>
                </tr>
              </thead>
              <tbody>
                {page.items.map((c) => (
                  <tr key={c.conversation_id}>
                    <th scope="row">#{c.conversation_id}</th>
                    <td>{when(c.started_at)}</td>
                    <td>{c.language}</td>
                    <td>{c.message_count}</td>
                    <td>
                      {c.readable && canRead ? (
                        <button type="button" className="link" onClick={() => onOpen(c.conversation_id)}>
                          {t("analytics.drill.read")}
                          <span className="visually-hidden"> #{c.conversation_id}</span>
                        </button>
                      ) : (
                        "—"
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </QueryState>
    </section>
  );
}

export function figureKey(figure: Figure): string {
  return figure === "thumbs_down" ? "thumbsDown" : figure;
}

/** A thumbs-down conversation, read-only (administrators; the read is audited). */
export function Transcript({ id, onClose }: { id: number; onClose: () => void }) {
  const { t, i18n } = useTranslation("admin");
  const transcript = useQuery({
    queryKey: ["admin", "analytics", "conversation", id],
    queryFn: async () => {
      const { data, error } = await api.GET("/api/v1/analytics/conversations/{conversation_id}", {
        params: { path: { conversation_id: id } },
      });
      if (error || !data) throw error ?? new Error("empty response");
      return data;
    },
    staleTime: Infinity, // one read, one audit entry
  });
  const title = t("analytics.transcript.title", { id });
  return (
    <section className="admin-panel analytics-transcript" aria-label={title}>
      <h2>{title}</h2>
      <p className="admin-muted">{t("analytics.transcript.audited")}</p>
      <button type="button" className="secondary" onClick={onClose}>
        {t("analytics.transcript.close")}
      </button>
      <QueryState query={transcript} failed={t("analytics.transcript.loadFailed")} empty={false} emptyText="">
        {(c) => (
          <ol className="analytics-messages">
            {c.messages.map((m) => (
              <li key={m.id} className={`analytics-message ${m.role}`}>
                <p className="admin-muted">
                  {t(`analytics.transcript.roles.${m.role === "user" ? "user" : "assistant"}`)} ·{" "}
                  {new Date(m.created_at).toLocaleString(i18n.language, { dateStyle: "medium", timeStyle: "short" })}
                  {m.origin && ` · ${t(`analytics.figures.${m.origin}`)}`}
                  {m.helpful === false && ` · ${t("analytics.figures.thumbsDown")}`}
                  {m.helpful === true && ` · ${t("analytics.figures.helpful")}`}
                </p>
                <p className="analytics-text">{m.content}</p>
              </li>
            ))}
          </ol>
        )}
      </QueryState>
    </section>
  );
}
