import { createContext, useContext, useMemo, useState, type ReactNode } from "react";
import { pickLanguage, TABLES, type LanguageCode, type StringKey } from "./strings";

export { LANGUAGES, pickLanguage, type LanguageCode } from "./strings";

interface I18n {
  language: LanguageCode;
  setLanguage(code: string): void;
  t(key: StringKey): string;
}

const Context = createContext<I18n>({
  language: "en",
  setLanguage: () => undefined,
  t: (key) => TABLES.en[key],
});

export function I18nProvider({ initial, children }: { initial?: string; children: ReactNode }) {
  const [language, setLanguageState] = useState<LanguageCode>(pickLanguage(initial));
  const value = useMemo<I18n>(
    () => ({
      language,
      setLanguage: (code) => setLanguageState(pickLanguage(code)),
      t: (key) => TABLES[language][key],
    }),
    [language],
  );
  return <Context.Provider value={value}>{children}</Context.Provider>;
}

export function useI18n(): I18n {
  return useContext(Context);
}
