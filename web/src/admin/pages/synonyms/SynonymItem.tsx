import { useMutation } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { api, errorMessage, type Schemas } from "../../../api/client";
import { ConfirmDialog } from "../../../components/ConfirmDialog";
import { LanguageSelect, useTermsCheck } from "./shared";
import { formatTerms, parseTerms } from "./terms";

type SynonymSet = Schemas["SynonymSetRead"];

/** One synonym set: its terms and language, edited in place, deleted with confirmation. */
export function SynonymItem({ item, onChanged }: { item: SynonymSet; onChanged(): void }) {
  const { t } = useTranslation("admin");
  const [editing, setEditing] = useState(false);
  const [language, setLanguage] = useState(item.language ?? "");
  const [terms, setTerms] = useState(formatTerms(item.terms));
  const [confirming, setConfirming] = useState(false);
  const check = useTermsCheck();
  const [problem, setProblem] = useState<string | null>(null);
  const label = formatTerms(item.terms);

  const save = useMutation({
    mutationFn: async () => {
      const { error } = await api.PUT("/api/v1/admin/search-synonyms/{synonym_id}", {
        params: { path: { synonym_id: item.id } },
        body: { language: language || null, terms: parseTerms(terms) },
      });
      if (error) throw error;
    },
    onSuccess: () => {
      setEditing(false);
      onChanged();
    },
  });
  const remove = useMutation({
    mutationFn: async () => {
      const { error } = await api.DELETE("/api/v1/admin/search-synonyms/{synonym_id}", { params: { path: { synonym_id: item.id } } });
      if (error) throw error;
    },
    onSuccess: () => {
      setConfirming(false);
      onChanged();
    },
  });

  function onSave(e: FormEvent) {
    e.preventDefault();
    const found = check(parseTerms(terms));
    setProblem(found);
    if (!found) save.mutate();
  }

  return (
    <li>
      <div className="category-row">
      {editing ? (
        <form onSubmit={onSave} className="inline-form">
          <LanguageSelect value={language} onChange={setLanguage} label={t("synonyms.languageOf", { terms: label })} />
          <label>
            <span className="visually-hidden">{t("synonyms.termsOf", { terms: label })}</span>
            <input value={terms} onChange={(e) => setTerms(e.target.value)} maxLength={2000} autoFocus size={40} />
          </label>
          <button type="submit" disabled={save.isPending}>
            {t("common:save")}
          </button>
          <button
            type="button"
            className="secondary"
            onClick={() => {
              setEditing(false);
              setTerms(formatTerms(item.terms));
              setLanguage(item.language ?? "");
              setProblem(null);
              save.reset();
            }}
          >
            {t("common:cancel")}
          </button>
        </form>
      ) : (
        <span className="category-label">
          <strong>{label}</strong> <small>{item.language ? t(`languages.${item.language}`, { defaultValue: item.language }) : t("synonyms.allLanguages")}</small>
        </span>
      )}
      {!editing && (
        <span className="row-actions">
          <button type="button" className="secondary" onClick={() => setEditing(true)} aria-label={t("synonyms.editLabel", { terms: label })}>
            {t("synonyms.edit")}
          </button>
          <button type="button" className="danger" onClick={() => setConfirming(true)} aria-label={t("synonyms.deleteLabel", { terms: label })}>
            {t("common:delete")}
          </button>
        </span>
      )}
      </div>
      {(problem || save.error) && (
        <p className="error" role="alert">
          {problem ?? errorMessage(save.error)}
        </p>
      )}
      <ConfirmDialog
        open={confirming}
        title={t("synonyms.deleteTitle", { terms: label })}
        confirmLabel={t("common:delete")}
        busy={remove.isPending}
        error={remove.error ? errorMessage(remove.error) : null}
        onConfirm={() => remove.mutate()}
        onCancel={() => {
          remove.reset();
          setConfirming(false);
        }}
      >
        <p>{t("synonyms.deleteBody")}</p>
      </ConfirmDialog>
    </li>
  );
}
