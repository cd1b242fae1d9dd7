// Light or dark, as the app's own theme (src/theme.ts): what the site asks for
// (data-helpline-theme="light" | "dark"), else the page's own theme when it declares one
// (<html data-theme="dark">, or class="dark"), else the system's preference. Followed live: the
// page's theme toggle and the system's change restyle an open widget.

export type WidgetTheme = "light" | "dark";

const asTheme = (value: string | null | undefined): WidgetTheme | null =>
  value === "light" || value === "dark" ? value : null;

/** The page's own theme, when it declares one. */
export function pageTheme(root: HTMLElement): WidgetTheme | null {
  const declared = asTheme(root.dataset.theme);
  if (declared) return declared;
  if (root.classList.contains("dark")) return "dark";
  if (root.classList.contains("light")) return "light";
  return null;
}

/** The theme to show: the site's setting ("auto" or none: follow), the page's, the system's. */
export function pickTheme(setting: string | null | undefined, page: WidgetTheme | null, systemDark: boolean): WidgetTheme {
  return asTheme(setting?.trim().toLowerCase()) ?? page ?? (systemDark ? "dark" : "light");
}

/** Call `apply` with the theme now and whenever it changes; returns a function that stops. */
export function followTheme(setting: string | null | undefined, apply: (theme: WidgetTheme) => void): () => void {
  const root = document.documentElement;
  const query = typeof matchMedia === "function" ? matchMedia("(prefers-color-scheme: dark)") : null;
  const update = () => apply(pickTheme(setting, pageTheme(root), query?.matches ?? false));
  update();
  if (asTheme(setting?.trim().toLowerCase())) return () => undefined; // fixed by the site
  query?.addEventListener("change", update);
  const observer = typeof MutationObserver === "function" ? new MutationObserver(update) : null;
  observer?.observe(root, { attributes: true, attributeFilter: ["data-theme", "class"] });
  return () => {
    query?.removeEventListener("change", update);
    observer?.disconnect();
  };
}
