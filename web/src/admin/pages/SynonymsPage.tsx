import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { api, errorMessage } from "../../api/client";
import { QueryState } from "../QueryState";
import { UnsavedChangesDialog, useUnsavedChanges } from "../unsaved/useUnsavedChanges";
import { Field } from "./faqs/Field";
import { LanguageSelect, SYNONYMS_KEY, useTermsCheck } from "./synonyms/shared";
import { SynonymItem } from "./synonyms/SynonymItem";
import { parseTerms } from "./synonyms/terms";

/** Search synonyms: sets of words customers and the knowledge base use for the same thing; a
 * search with one of them also finds FAQs that use another. List, add, edit, delete. */
export default function SynonymsPage() {
  const { t } = useTranslation("admin");
  const queryClient = useQueryClient();
  const [terms, setTerms] = useState("");
  const [language, setLanguage] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [created, setCreated] = useState<string | null>(null);
  const check = useTermsCheck();
  const unsaved = useUnsavedChanges(terms.trim() !== "");
  const sets = useQuery({
    queryKey: SYNONYMS_KEY,
    queryFn: async () => {
      const { data, error } = await api.GET("/api/v1/admin/search-synonyms");
      if (error || !data) throw error ?? new Error("empty response");
      return data.items;
    },
  });
  const refresh = () => void queryClient.invalidateQueries({ queryKey: SYNONYMS_KEY });

  const create = useMutation({
    mutationFn: async () => {
      const { data, error } = await api.POST("/api/v1/admin/search-synonyms", {
        body: { language: language || null, terms: parseTerms(terms) },
      });
      if (error) throw error;
      return data;
    },
    onMutate: () => setCreated(null),
    onSuccess: (data) => {
      setTerms("");
      setCreated(t("synonyms.created", { terms: data.terms.join(", ") }));
      refresh();
    },
  });

  function onSubmit(e: FormEvent) {
    e.preventDefault();
    const found = check(parseTerms(terms));
    setProblem(found);
    if (!found) create.mutate();
  }

  const rows = sets.data ?? [];
  const error = problem ?? (create.error ? errorMessage(create.error) : undefined);
  return (
    <>
      <h1>{t("synonyms.title")}</h1>
      <p>{t("synonyms.intro")}</p>
      <section aria-labelledby="new-synonyms" className="admin-panel">
        <h2 id="new-synonyms">{t("synonyms.new")}</h2>
        <form onSubmit={onSubmit} className="form-grid" noValidate>
          <Field label={t("synonyms.terms")} hint={t("synonyms.termsHint")} error={error}>
            {(p) => <input {...p} value={terms} onChange={(e) => setTerms(e.target.value)} maxLength={2000} required />}
          </Field>
          <Field label={t("synonyms.language")}>{(p) => <LanguageSelect id={p.id} value={language} onChange={setLanguage} label={t("synonyms.language")} />}</Field>
          <div className="form-actions">
            <button type="submit" disabled={create.isPending}>
              {t("synonyms.create")}
            </button>
          </div>
        </form>
        {created && (
          <p className="admin-success" role="status">
            {created}
          </p>
        )}
        <UnsavedChangesDialog blocker={unsaved.blocker} />
      </section>
      <QueryState query={sets} failed={t("synonyms.loadFailed")} empty={rows.length === 0} emptyText={t("synonyms.empty")}>
        {() => (
          <section aria-labelledby="synonym-list">
            <h2 id="synonym-list">{t("synonyms.list")}</h2>
            <ul className="category-tree">
              {rows.map((s) => (
                <SynonymItem key={s.id} item={s} onChanged={refresh} />
              ))}
            </ul>
          </section>
        )}
      </QueryState>
    </>
  );
}
