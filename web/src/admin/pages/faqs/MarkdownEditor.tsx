import { useId } from "react";
import { useTranslation } from "react-i18next";
import { Markdown } from "../../../components/Markdown";

interface Props {
  label: string;
  value: string;
  onChange(value: string): void;
  error?: string;
  hint?: string;
}

/** A Markdown textarea with a live preview beside it (below it on a phone), rendered by the
 * same sanitizing component the help center and chat use, so what you see is what readers get. */
export function MarkdownEditor({ label, value, onChange, error, hint }: Props) {
  const { t } = useTranslation("admin");
  const id = useId();
  return (
    <div className="markdown-editor">
      <div className="markdown-input">
        <label htmlFor={`${id}-input`}>{label}</label>
        <textarea
          id={`${id}-input`}
          value={value}
          rows={14}
          onChange={(e) => onChange(e.target.value)}
          aria-invalid={error ? true : undefined}
          aria-describedby={[hint && `${id}-hint`, error && `${id}-error`].filter(Boolean).join(" ") || undefined}
        />
        {hint && <small id={`${id}-hint`}>{hint}</small>}
        {error && (
          <p className="field-error" id={`${id}-error`}>
            {error}
          </p>
        )}
      </div>
      <section className="markdown-preview" aria-labelledby={`${id}-preview`}>
        <h2 id={`${id}-preview`} className="preview-title">
          {t("editor.preview")}
        </h2>
        {value.trim() ? <Markdown>{value}</Markdown> : <p className="admin-muted">{t("editor.previewEmpty")}</p>}
      </section>
    </div>
  );
}
