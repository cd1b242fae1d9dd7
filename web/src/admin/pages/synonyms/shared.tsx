import { useTranslation } from "react-i18next";
import { MAX_TERM_CHARS, MAX_TERMS, MIN_TERMS, termsProblem } from "./terms";

export const SYNONYMS_KEY = ["admin", "search-synonyms"] as const;
// The languages the panel names; a set applies to one of them or to every language.
const LANGUAGES = ["en", "es", "fr", "de"] as const;

/** The language of a set ("" for every language); ``label`` names it when no <label> does (no ``id``). */
export function LanguageSelect({ value, onChange, label, id }: { value: string; onChange(v: string): void; label: string; id?: string }) {
  const { t } = useTranslation("admin");
  return (
    <select id={id} value={value} onChange={(e) => onChange(e.target.value)} aria-label={id ? undefined : label}>
      <option value="">{t("synonyms.allLanguages")}</option>
      {LANGUAGES.map((l) => (
        <option key={l} value={l}>
          {t(`languages.${l}`)}
        </option>
      ))}
    </select>
  );
}

/** What is wrong with a set's terms, in words, or null. */
export function useTermsCheck(): (terms: string[]) => string | null {
  const { t } = useTranslation("admin");
  return (terms) => {
    const problem = termsProblem(terms);
    if (!problem) return null;
    if (problem.kind === "tooFew") return t("synonyms.tooFew", { min: MIN_TERMS });
    if (problem.kind === "tooMany") return t("synonyms.tooMany", { max: MAX_TERMS });
    if (problem.kind === "tooLong") return t("synonyms.tooLong", { term: problem.term.slice(0, 20), max: MAX_TERM_CHARS });
    return t("synonyms.twice", { term: problem.term });
  };
}
