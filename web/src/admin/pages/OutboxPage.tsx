import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { Link, Route, Routes, useParams } from "react-router-dom";
import { api } from "../../api/client";
import { QueryState } from "../QueryState";

/** Mails written to the outbox because no mail server is configured (admins only). */
export default function OutboxPage() {
  return (
    <Routes>
      <Route index element={<OutboxList />} />
      <Route path=":mailId" element={<OutboxMail />} />
    </Routes>
  );
}

function useDate() {
  const { i18n } = useTranslation();
  return (iso: string) => new Date(iso).toLocaleString(i18n.language, { dateStyle: "medium", timeStyle: "medium" });
}

function OutboxList() {
  const { t } = useTranslation("admin");
  const date = useDate();
  const mails = useInfiniteQuery({
    queryKey: ["admin", "outbox"],
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) => {
      const { data, error } = await api.GET("/api/v1/admin/outbox", { params: { query: { before: pageParam, limit: 50 } } });
      if (error || !data) throw error ?? new Error("empty response");
      return data;
    },
    getNextPageParam: (last) => last.next_before ?? undefined,
  });
  const rows = mails.data?.pages.flatMap((p) => p.items) ?? [];
  const smtp = mails.data?.pages[0]?.smtp_configured;
  return (
    <>
      <h1>{t("outbox.title")}</h1>
      <p className="admin-muted">{smtp ? t("outbox.smtp") : t("outbox.intro")}</p>
      <QueryState query={mails} failed={t("outbox.notFound")} empty={rows.length === 0} emptyText={t("outbox.empty")}>
        {() => (
          <div className="admin-table-wrap">
            <table className="admin-table">
              <thead>
                <tr>
                  <th scope="col">{t("outbox.date")}</th>
                  <th scope="col">{t("outbox.to")}</th>
                  <th scope="col">{t("outbox.subject")}</th>
                  <th scope="col">{t("outbox.kind")}</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((m) => (
                  <tr key={m.id}>
                    <td>{date(m.created_at)}</td>
                    <td>{m.to}</td>
                    <td>
                      <Link to={m.id}>{m.subject}</Link>
                    </td>
                    <td>
                      <code>{m.kind}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </QueryState>
      {mails.hasNextPage && (
        <button type="button" onClick={() => void mails.fetchNextPage()} disabled={mails.isFetchingNextPage}>
          {t("outbox.more")}
        </button>
      )}
    </>
  );
}

function OutboxMail() {
  const { t } = useTranslation("admin");
  const date = useDate();
  const { mailId = "" } = useParams();
  const mail = useQuery({
    queryKey: ["admin", "outbox", mailId],
    queryFn: async () => {
      const { data, error } = await api.GET("/api/v1/admin/outbox/{mail_id}", { params: { path: { mail_id: mailId } } });
      if (error || !data) throw error ?? new Error("empty response");
      return data;
    },
  });
  return (
    <>
      <p>
        <Link to="..">{t("outbox.back")}</Link>
      </p>
      <QueryState query={mail} failed={t("outbox.notFound")} empty={false} emptyText="">
        {(m) => (
          <article aria-labelledby="mail-subject">
            <h1 id="mail-subject">{m.subject}</h1>
            <p className="admin-muted">
              {t("outbox.to")}: {m.to} · {date(m.created_at)} · <code>{m.kind}</code>
            </p>
            <h2>{t("outbox.text")}</h2>
            <pre className="outbox-text">{m.text}</pre>
            <h2>{t("outbox.html")}</h2>
            {/* The mail's HTML in a sandbox with no scripts and no same-origin access. */}
            <iframe title={t("outbox.html")} sandbox="" srcDoc={m.html} className="outbox-html" />
          </article>
        )}
      </QueryState>
    </>
  );
}
