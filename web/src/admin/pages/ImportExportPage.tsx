import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useRef, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { api, errorMessage, type Schemas } from "../../api/client";
import { CATEGORIES_KEY, FAQ_STATUSES, type FaqStatus } from "../api";
import { ExportPanel } from "./import/ExportPanel";
import { ImportReport } from "./import/ImportReport";

/** Upload a JSON, CSV or Markdown file of FAQs (optionally as a dry run) and read the report
 * row by row; download the knowledge base in each format. */
export default function ImportExportPage() {
  const { t } = useTranslation("admin");
  const queryClient = useQueryClient();
  const fileInput = useRef<HTMLInputElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const [status, setStatus] = useState<FaqStatus>("draft");
  const [dryRun, setDryRun] = useState(false);
  const [missingFile, setMissingFile] = useState(false);

  const upload = useMutation({
    mutationFn: async (f: File): Promise<{ report: Schemas["ImportReport"]; name: string }> => {
      const form = new FormData();
      form.append("file", f, f.name);
      const { data, error } = await api.POST("/api/v1/faqs/import", {
        params: { query: { status, dry_run: dryRun } },
        body: form as unknown as { file?: string },
      });
      if (error) throw error;
      return { report: data, name: f.name };
    },
    onSuccess: ({ report }) => {
      if (!report.dry_run) {
        void queryClient.invalidateQueries({ queryKey: ["admin", "faqs"] });
        void queryClient.invalidateQueries({ queryKey: CATEGORIES_KEY });
      }
    },
  });

  function onSubmit(e: FormEvent) {
    e.preventDefault();
    if (!file) {
      setMissingFile(true);
      fileInput.current?.focus();
      return;
    }
    upload.mutate(file);
  }

  return (
    <>
      <h1>{t("import.title")}</h1>
      <section aria-labelledby="import-heading" className="admin-panel">
        <h2 id="import-heading">{t("import.importHeading")}</h2>
        <p className="admin-muted">{t("import.formats")}</p>
        <form onSubmit={onSubmit} noValidate>
          <div className="form-grid">
            <div className="field">
              <label htmlFor="import-file">{t("import.file")}</label>
              <input
                id="import-file"
                ref={fileInput}
                type="file"
                accept=".csv,.json,.md,.markdown,text/csv,application/json,text/markdown"
                aria-invalid={missingFile ? true : undefined}
                aria-describedby={missingFile ? "import-file-error" : undefined}
                onChange={(e) => {
                  setFile(e.target.files?.[0] ?? null);
                  setMissingFile(false);
                  upload.reset();
                }}
              />
              {missingFile && (
                <p className="field-error" id="import-file-error">
                  {t("import.chooseFile")}
                </p>
              )}
            </div>
            <div className="field">
              <label htmlFor="import-status">{t("import.newStatus")}</label>
              <select id="import-status" value={status} onChange={(e) => setStatus(e.target.value as FaqStatus)}>
                {FAQ_STATUSES.map((s) => (
                  <option key={s} value={s}>
                    {t(`status.${s}`)}
                  </option>
                ))}
              </select>
              <small>{t("import.newStatusHint")}</small>
            </div>
          </div>
          <div className="field">
            <label className="check">
              <input type="checkbox" checked={dryRun} onChange={(e) => setDryRun(e.target.checked)} aria-describedby="dry-run-hint" />
              <span>{t("import.dryRun")}</span>
            </label>
            <small id="dry-run-hint" className="check-hint">
              {t("import.dryRunHint")}
            </small>
          </div>
          <div className="form-actions">
            <button type="submit" disabled={upload.isPending}>
              {upload.isPending ? t("import.importing") : dryRun ? t("import.check") : t("import.submit")}
            </button>
          </div>
        </form>
        {upload.isError && (
          <p className="error" role="alert">
            {errorMessage(upload.error, t("import.failed"))}
          </p>
        )}
      </section>
      {upload.data && <ImportReport report={upload.data.report} fileName={upload.data.name} />}
      <ExportPanel />
    </>
  );
}
