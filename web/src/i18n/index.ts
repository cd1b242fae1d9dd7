// Interface languages. Each area keeps its strings in its own namespace file,
// locales/<lang>/<namespace>.json, so screens can be added without touching one shared file.
import i18n from "i18next";
import { initReactI18next } from "react-i18next";

export const LANGUAGES = [
  { code: "en", label: "English" },
  { code: "es", label: "Español" },
  { code: "fr", label: "Français" },
  { code: "de", label: "Deutsch" },
] as const;
export type LanguageCode = (typeof LANGUAGES)[number]["code"];

const files = import.meta.glob<{ default: Record<string, unknown> }>("./locales/*/*.json", { eager: true });
const resources: Record<string, Record<string, Record<string, unknown>>> = {};
for (const [path, module] of Object.entries(files)) {
  const [, lang, ns] = /\.\/locales\/(\w+)\/(\w+)\.json$/.exec(path) ?? [];
  if (lang && ns) (resources[lang] ??= {})[ns] = module.default;
}

const KEY = "helpline.language";

export function initialLanguage(): LanguageCode {
  const saved = globalThis.localStorage?.getItem(KEY);
  const wanted = saved ?? globalThis.navigator?.language?.slice(0, 2) ?? "en";
  return LANGUAGES.some((l) => l.code === wanted) ? (wanted as LanguageCode) : "en";
}

export function setLanguage(code: LanguageCode): void {
  localStorage.setItem(KEY, code);
  void i18n.changeLanguage(code);
}

void i18n.use(initReactI18next).init({
  resources,
  lng: initialLanguage(),
  fallbackLng: "en",
  defaultNS: "common",
  interpolation: { escapeValue: false }, // React escapes already
});

i18n.on("languageChanged", (lng) => {
  document.documentElement.lang = lng;
});
document.documentElement.lang = i18n.language;

export default i18n;
