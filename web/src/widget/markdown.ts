// A small Markdown subset (paragraphs, line breaks, lists, code, bold, italics, links, images) rendered
// straight to DOM nodes. Written by hand rather than `marked` + `dompurify` because those two
// alone would double the widget's size; and it is safe by construction: text only ever goes into
// text nodes, no HTML is parsed, so HTML in a message is shown as the text it is.

const SAFE_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);
const INLINE =
  /`([^`\n]+)`|\*\*(.+?)\*\*|\*([^*\s](?:[^*]*[^*\s])?)\*|!\[([^\]\n]*)\]\(([^)\s]+)\)|\[([^\]\n]+)\]\(([^)\s]+)\)/g;

/** Where a message's links resolve, and the origins its images may load from. */
interface Context {
  base: string;
  images: ReadonlySet<string>;
}

/** A link's URL if it is safe to follow (http, https, mailto; relative ones resolve against base). */
export function safeUrl(href: string, base: string): string | null {
  try {
    const url = new URL(href, base);
    return SAFE_PROTOCOLS.has(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

export function externalLink(href: string, text: string): HTMLAnchorElement {
  const a = document.createElement("a");
  a.href = href;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  a.textContent = text;
  return a;
}

/** An image's URL if it may be loaded: from the Helpline server or an origin the server allows
 * (HELPLINE_IMAGE_ORIGINS, in the widget's config). Any other host would learn who read the
 * answer (a tracking pixel), so such an image is shown as a link instead. */
export function allowedImage(src: string, base: string, origins: Iterable<string>): string | null {
  try {
    const url = new URL(src, base);
    const self = url.origin === new URL(base).origin && SAFE_PROTOCOLS.has(url.protocol);
    return self || (url.protocol === "https:" && new Set(origins).has(url.origin)) ? url.href : null;
  } catch {
    return null;
  }
}

function image(parent: Node, alt: string, src: string, ctx: Context): void {
  const url = allowedImage(src, ctx.base, ctx.images);
  if (url) {
    const img = document.createElement("img");
    img.src = url;
    img.alt = alt;
    img.loading = "lazy";
    img.referrerPolicy = "no-referrer";
    parent.appendChild(img);
    return;
  }
  // Not loaded: a link to it (labelled with its description), which the reader may follow.
  const href = safeUrl(src, ctx.base);
  const label = alt || src;
  parent.appendChild(href ? externalLink(href, label) : document.createTextNode(label));
}

function inline(parent: Node, text: string, ctx: Context): void {
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    const at = m.index ?? 0;
    if (at > last) parent.appendChild(document.createTextNode(text.slice(last, at)));
    last = at + m[0].length;
    const [, code, bold, em, alt, src, label, href] = m;
    if (code !== undefined) {
      const el = document.createElement("code");
      el.textContent = code;
      parent.appendChild(el);
    } else if (bold !== undefined || em !== undefined) {
      const el = document.createElement(bold !== undefined ? "strong" : "em");
      inline(el, (bold ?? em) as string, ctx);
      parent.appendChild(el);
    } else if (alt !== undefined && src !== undefined) {
      image(parent, alt, src, ctx);
    } else if (label !== undefined && href !== undefined) {
      const url = safeUrl(href, ctx.base);
      if (url) parent.appendChild(externalLink(url, label));
      else parent.appendChild(document.createTextNode(label));
    }
  }
  if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
}

const BULLET = /^\s*[-*+]\s+(.*)$/;
const NUMBERED = /^\s*\d+[.)]\s+(.*)$/;
const HEADING = /^#{1,6}\s+(.*)$/;

function lines(parent: HTMLElement, rows: string[], ctx: Context): void {
  rows.forEach((row, i) => {
    if (i > 0) parent.appendChild(document.createElement("br"));
    const heading = HEADING.exec(row);
    if (heading) {
      const strong = document.createElement("strong");
      inline(strong, heading[1] as string, ctx);
      parent.appendChild(strong);
    } else {
      inline(parent, row, ctx);
    }
  });
}

/** Render Markdown `source` into a fragment; relative links resolve against `base`. Images load
 * only from `base`'s origin and `imageOrigins`; others become links. */
export function renderMarkdown(source: string, base: string, imageOrigins: readonly string[] = []): DocumentFragment {
  const ctx: Context = { base, images: new Set(imageOrigins) };
  const out = document.createDocumentFragment();
  const rows = source.replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  while (i < rows.length) {
    const row = rows[i] as string;
    if (row.trim() === "") {
      i++;
    } else if (row.trimStart().startsWith("```")) {
      const code: string[] = [];
      i++;
      while (i < rows.length && !(rows[i] as string).trimStart().startsWith("```")) code.push(rows[i++] as string);
      i++; // the closing fence (or the end of a message still streaming)
      const pre = document.createElement("pre");
      const el = document.createElement("code");
      el.textContent = code.join("\n");
      pre.appendChild(el);
      out.appendChild(pre);
    } else if (BULLET.test(row) || NUMBERED.test(row)) {
      const pattern = BULLET.test(row) ? BULLET : NUMBERED;
      const list = document.createElement(pattern === BULLET ? "ul" : "ol");
      while (i < rows.length && pattern.test(rows[i] as string)) {
        const li = document.createElement("li");
        inline(li, (rows[i] as string).replace(pattern, "$1"), ctx);
        list.appendChild(li);
        i++;
      }
      out.appendChild(list);
    } else {
      const para: string[] = [];
      while (i < rows.length) {
        const next = rows[i] as string;
        if (next.trim() === "" || next.trimStart().startsWith("```")) break;
        if (para.length && (BULLET.test(next) || NUMBERED.test(next))) break;
        para.push(next);
        i++;
      }
      const p = document.createElement("p");
      lines(p, para, ctx);
      out.appendChild(p);
    }
  }
  return out;
}
