import { useTranslation } from "react-i18next";
import type { Schemas } from "../../../api/client";

/** What an import did (or, in a dry run, would do), with each rejected row and its reason. */
export function ImportReport({ report, fileName }: { report: Schemas["ImportReport"]; fileName: string }) {
  const { t } = useTranslation("admin");
  const counts: [string, number][] = [
    ["created", report.created],
    ["updated", report.updated],
    ["unchanged", report.unchanged],
    ["categoriesCreated", report.categories_created],
    ["rejected", report.rejected.length],
  ];
  return (
    <section aria-labelledby="import-report" className="admin-panel import-report" role="region">
      <h2 id="import-report">{report.dry_run ? t("import.reportDry", { file: fileName }) : t("import.report", { file: fileName })}</h2>
      <p role="status" className={report.rejected.length ? "admin-warning" : "admin-success"}>
        {report.dry_run ? t("import.summaryDry") : t("import.summary")}{" "}
        {report.rejected.length > 0 && t("import.someRejected", { count: report.rejected.length })}
      </p>
      <dl className="report-counts">
        {counts.map(([key, n]) => (
          <div key={key} className={key === "rejected" && n > 0 ? "bad" : undefined}>
            <dt>{t(`import.counts.${key}`)}</dt>
            <dd>{n}</dd>
          </div>
        ))}
      </dl>
      {report.rejected.length > 0 && (
        <div className="admin-table-wrap">
          <table className="admin-table">
            <caption>{t("import.rejectedCaption")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("import.row")}</th>
                <th scope="col">{t("import.kind")}</th>
                <th scope="col">{t("import.reason")}</th>
              </tr>
            </thead>
            <tbody>
              {report.rejected.map((r) => (
                <tr key={`${r.kind}-${r.row}`}>
                  <td>{r.row}</td>
                  <td>{t(`import.kinds.${r.kind ?? "faq"}`)}</td>
                  <td>{r.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
