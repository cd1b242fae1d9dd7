import { useState } from "react";
import { useTranslation } from "react-i18next";
import { api, errorMessage } from "../../../api/client";
import { FAQ_STATUSES, type FaqStatus } from "../../api";

const FORMATS = ["json", "csv", "md"] as const;
type Format = (typeof FORMATS)[number];

/** Download the FAQs as a file. The export needs the bearer token, so it is fetched and handed
 * to the browser as a download rather than linked. */
export function ExportPanel() {
  const { t } = useTranslation("admin");
  const [status, setStatus] = useState<FaqStatus | "">("");
  const [busy, setBusy] = useState<Format | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function download(format: Format) {
    setBusy(format);
    setError(null);
    try {
      const { data, error: apiError } = await api.GET("/api/v1/faqs/export", {
        params: { query: { format, status: status || undefined } },
        parseAs: "blob",
      });
      if (apiError) throw apiError;
      const url = URL.createObjectURL(data as Blob);
      const a = document.createElement("a");
      a.href = url;
      a.download = `faqs.${format}`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      setError(errorMessage(e, t("import.exportFailed")));
    } finally {
      setBusy(null);
    }
  }

  return (
    <section aria-labelledby="export-heading" className="admin-panel">
      <h2 id="export-heading">{t("import.exportHeading")}</h2>
      <div className="field export-status">
        <label htmlFor="export-status">{t("faqs.status")}</label>
        <select id="export-status" value={status} onChange={(e) => setStatus(e.target.value as FaqStatus | "")}>
          <option value="">{t("faqs.allStatuses")}</option>
          {FAQ_STATUSES.map((s) => (
            <option key={s} value={s}>
              {t(`status.${s}`)}
            </option>
          ))}
        </select>
      </div>
      <div className="form-actions">
        {FORMATS.map((f) => (
          <button key={f} type="button" className="secondary" disabled={busy !== null} onClick={() => void download(f)}>
            {busy === f ? t("import.exporting") : t(`import.export.${f}`)}
          </button>
        ))}
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
