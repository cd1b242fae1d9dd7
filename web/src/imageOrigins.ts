// Where images in Markdown may load from: this site, and the https origins the server lists in
// <meta name="helpline-image-origins"> (HELPLINE_IMAGE_ORIGINS; the Content-Security-Policy says
// the same). An image from anywhere else would tell that host who read the answer (a tracking
// pixel), so Markdown shows it as a link instead of loading it.

const META = 'meta[name="helpline-image-origins"]';

/** The origins the server allows besides this site's own (none when the page has no such tag). */
export function imageOrigins(): Set<string> {
  const content = document.querySelector<HTMLMetaElement>(META)?.content ?? "";
  return new Set(content.split(/\s+/).filter(Boolean));
}

/** The image's URL if it may be loaded here, else null. */
export function allowedImage(src: string | undefined, origins: Set<string> = imageOrigins()): string | null {
  if (!src) return null;
  try {
    const url = new URL(src, location.href);
    if (url.origin === location.origin && (url.protocol === "https:" || url.protocol === "http:")) return url.href;
    return url.protocol === "https:" && origins.has(url.origin) ? url.href : null;
  } catch {
    return null;
  }
}
