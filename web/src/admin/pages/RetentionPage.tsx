import { useQuery } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { api } from "../../api/client";
import { QueryState } from "../QueryState";

// The periods, in the order the job applies them, and their report keys.
const PERIODS = [
  ["conversation_days", "conversations"],
  ["refresh_token_days", "refreshTokens"],
  ["consent_days", "consents"],
  ["audit_ip_days", "auditIps"],
  ["audit_days", "auditEntries"],
] as const;

/** How long data is kept (HELPLINE_RETENTION_*, read only: settings are the server's) and what
 * the latest run of the retention job removed. */
export default function RetentionPage() {
  const { t, i18n } = useTranslation("admin");
  const status = useQuery({
    queryKey: ["admin", "retention"],
    queryFn: async () => {
      const { data, error } = await api.GET("/api/v1/privacy/retention");
      if (error) throw error;
      return data;
    },
  });
  const date = (iso: string) => new Date(iso).toLocaleString(i18n.language, { dateStyle: "medium", timeStyle: "short" });

  return (
    <>
      <h1>{t("retention.title")}</h1>
      <p className="admin-muted">{t("retention.intro")}</p>
      <QueryState query={status} failed={t("retention.loadFailed")} empty={false} emptyText="">
        {(data) => (
          <>
            <p>
              {data.enabled
                ? t("retention.enabled", { count: data.interval_minutes })
                : t("retention.disabled")}
            </p>
            <div className="admin-table-wrap">
              <table className="admin-table">
                <caption>{t("retention.periods")}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t("retention.data")}</th>
                    <th scope="col">{t("retention.kept")}</th>
                  </tr>
                </thead>
                <tbody>
                  {PERIODS.map(([field, key]) => (
                    <tr key={field}>
                      <th scope="row">{t(`retention.rules.${key}`)}</th>
                      <td>{data[field] === 0 ? t("retention.forever") : t("retention.days", { count: data[field] })}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <h2>{t("retention.lastRemoval")}</h2>
            {data.last_removal ? (
              <>
                <p className="admin-muted">{date(data.last_removal.at)}</p>
                <ul>
                  {Object.entries(data.last_removal.counts).map(([rule, count]) => (
                    <li key={rule}>
                      <code>{rule}</code>: {count}
                    </li>
                  ))}
                </ul>
              </>
            ) : (
              <p className="admin-empty">{t("retention.nothingYet")}</p>
            )}
          </>
        )}
      </QueryState>
    </>
  );
}
