// Citation markers such as "[1]" in an answer: the model cites the articles it was given by their
// number; those the server says the answer used (Source.n) become links to their article.
import type { Link, Root, Text } from "mdast";
import { SKIP, visit } from "unist-util-visit";

export interface Citation {
  href: string;
  title: string;
  /** The link's accessible name, e.g. "Source 1: How do I reset my password?". */
  label: string;
}

export type Segment = string | { n: number };

const MARKER = /\[(\d{1,2})\]/g;

/** Split text into plain parts and the markers of known citations (unknown numbers stay text). */
export function splitCitations(text: string, known: (n: number) => boolean): Segment[] {
  const out: Segment[] = [];
  let last = 0;
  for (const match of text.matchAll(MARKER)) {
    const n = Number(match[1]);
    if (!known(n)) continue;
    if (match.index > last) out.push(text.slice(last, match.index));
    out.push({ n });
    last = match.index + match[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/** remark plugin: known markers in text (not in code or links) become links with class "citation". */
export function remarkCitations(citations: ReadonlyMap<number, Citation>) {
  return () => (tree: Root) => {
    if (citations.size === 0) return;
    visit(tree, "text", (node: Text, index, parent) => {
      if (!parent || index === undefined || parent.type === "link" || parent.type === "linkReference") return;
      const parts = splitCitations(node.value, (n) => citations.has(n));
      if (parts.length === 1 && typeof parts[0] === "string") return;
      const nodes = parts.map((p): Text | Link => {
        if (typeof p === "string") return { type: "text", value: p };
        const c = citations.get(p.n)!;
        return {
          type: "link",
          url: c.href,
          title: c.title,
          children: [{ type: "text", value: `[${p.n}]` }],
          data: { hProperties: { className: ["citation"], "aria-label": c.label } },
        };
      });
      parent.children.splice(index, 1, ...nodes);
      return [SKIP, index + nodes.length];
    });
  };
}
