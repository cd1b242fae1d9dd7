// Light or dark: the system's preference until the user picks one with the header's toggle; the
// choice is kept in localStorage and set as <html data-theme>, which styles.css reads.
import { useCallback, useEffect, useState } from "react";

export type Theme = "light" | "dark";
const KEY = "helpline.theme";

/** The user's saved choice, when it is a valid one. */
export function savedTheme(value: string | null): Theme | null {
  return value === "light" || value === "dark" ? value : null;
}

/** The theme to show: the saved choice, else the system's preference. */
export function resolveTheme(saved: Theme | null, systemDark: boolean): Theme {
  return saved ?? (systemDark ? "dark" : "light");
}

function stored(): Theme | null {
  try {
    return savedTheme(localStorage.getItem(KEY));
  } catch {
    return null;
  }
}

const systemQuery = () => (typeof matchMedia === "function" ? matchMedia("(prefers-color-scheme: dark)") : null);

/** Set <html data-theme> (before the first render too, so a dark page never flashes light). */
export function applyTheme(theme: Theme = resolveTheme(stored(), systemQuery()?.matches ?? false)): Theme {
  document.documentElement.dataset.theme = theme;
  return theme;
}

export function useTheme(): [Theme, (t: Theme) => void] {
  const [theme, setTheme] = useState<Theme>(() => applyTheme());
  useEffect(() => {
    // Following the system (no choice saved): follow its changes too.
    const query = systemQuery();
    if (!query) return;
    const change = () => {
      if (!stored()) setTheme(applyTheme());
    };
    query.addEventListener("change", change);
    return () => query.removeEventListener("change", change);
  }, []);
  const choose = useCallback((t: Theme) => {
    try {
      localStorage.setItem(KEY, t);
    } catch {
      // private mode: the choice lasts for this page only
    }
    setTheme(applyTheme(t));
  }, []);
  return [theme, choose];
}
