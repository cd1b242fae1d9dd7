import { useId, useState, type KeyboardEvent } from "react";
import { useTranslation } from "react-i18next";

/** The FAQ's alternative phrasings: other ways customers ask its question, each searched like
 * the question. Edit, remove, or add one (Enter in the new field adds it too). */
export function PhrasingsEditor({ value, onChange, error }: { value: string[]; onChange(next: string[]): void; error?: string }) {
  const { t } = useTranslation("admin");
  const id = useId();
  const [draft, setDraft] = useState("");
  const add = () => {
    const text = draft.trim();
    if (!text) return;
    onChange([...value, text]);
    setDraft("");
  };
  const onKey = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === "Enter") {
      e.preventDefault(); // not the form's submit
      add();
    }
  };
  const described = [`${id}-hint`, error && `${id}-error`].filter(Boolean).join(" ");
  return (
    <fieldset className="phrasings-editor" aria-describedby={described}>
      <legend>{t("editor.phrasings")}</legend>
      <small id={`${id}-hint`}>{t("editor.phrasingsHint")}</small>
      {value.length === 0 ? (
        <p className="admin-muted">{t("editor.noPhrasings")}</p>
      ) : (
        <ol className="phrasings-list">
          {value.map((phrasing, i) => (
            <li key={i}>
              <input
                aria-label={t("editor.phrasingLabel", { n: i + 1 })}
                value={phrasing}
                maxLength={300}
                onChange={(e) => onChange(value.map((p, j) => (j === i ? e.target.value : p)))}
              />
              <button type="button" className="secondary" aria-label={t("editor.removePhrasingLabel", { n: i + 1 })} onClick={() => onChange(value.filter((_, j) => j !== i))}>
                {t("editor.removePhrasing")}
              </button>
            </li>
          ))}
        </ol>
      )}
      <div className="phrasings-add">
        <input aria-label={t("editor.newPhrasing")} value={draft} maxLength={300} onChange={(e) => setDraft(e.target.value)} onKeyDown={onKey} />
        <button type="button" className="secondary" onClick={add} disabled={!draft.trim()}>
          {t("editor.addPhrasing")}
        </button>
      </div>
      {error && (
        <p className="field-error" id={`${id}-error`}>
          {error}
        </p>
      )}
    </fieldset>
  );
}
