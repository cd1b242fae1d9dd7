// The site's accent colour, and colours that stay readable on and beside it (WCAG AA).

const FALLBACK = "#1d4ed8";

function channels(hex: string): [number, number, number] {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function luminance(hex: string): number {
  const [r, g, b] = channels(hex).map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

export function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

const FALLBACK_DARK = "#93c5fd";
/** The message backgrounds links sit on (widget.css: --panel, light and dark). */
export const LIGHT_PANEL = "#f3f4f6";
export const DARK_PANEL = "#1f2430";

export interface Palette {
  accent: string;
  onAccent: string;
  link: string;
  /** The link colour in the dark theme. */
  linkDark: string;
}

/** `accent` if it is a #rrggbb colour (else the default), the text colour for it (white or near
 * black, whichever reads better) and link colours readable on the message background of the light
 * and of the dark theme. */
export function palette(accent: string | null | undefined): Palette {
  const color = accent && /^#[0-9a-f]{6}$/i.test(accent) ? accent.toLowerCase() : FALLBACK;
  const onAccent = contrast(color, "#ffffff") >= contrast(color, "#111827") ? "#ffffff" : "#111827";
  const link = contrast(color, LIGHT_PANEL) >= 4.5 ? color : FALLBACK;
  const linkDark = contrast(color, DARK_PANEL) >= 4.5 ? color : FALLBACK_DARK;
  return { accent: color, onAccent, link, linkDark };
}
