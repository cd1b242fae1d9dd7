import type { Root } from "mdast";
import { useEffect, useMemo, useRef, useState, type ComponentProps } from "react";
import { useTranslation } from "react-i18next";
import ReactMarkdown, { type Components, type Options } from "react-markdown";
import { Link } from "react-router-dom";
import remarkGfm from "remark-gfm";
import { visit } from "unist-util-visit";
import { allowedImage } from "../imageOrigins";
import { remarkCitations, type Citation } from "./citations";
import { CopyButton } from "./CopyButton";

/** Raw HTML in a message is shown as the text it is, never parsed into elements. */
function htmlAsText() {
  return (tree: Root) => {
    visit(tree, "html", (node, index, parent) => {
      if (parent && index !== undefined) parent.children[index] = { type: "text", value: node.value };
    });
  };
}

// Code highlighting (highlight.js's common languages through rehype-highlight) is a chunk of its
// own, fetched the first time a text has a fenced code block: most answers have none.
type PluggableList = NonNullable<Options["remarkPlugins"]>;
type Highlighter = (typeof import("rehype-highlight"))["default"];
let highlighter: Highlighter | null = null;
let loading: Promise<Highlighter> | null = null;
const FENCE = /(^|\n)\s*(```|~~~)/;

function useHighlighter(needed: boolean): Highlighter | null {
  const [loaded, setLoaded] = useState<Highlighter | null>(() => highlighter); // a function: not called as an initializer
  useEffect(() => {
    if (!needed || loaded) return;
    let live = true;
    loading ??= import("rehype-highlight").then((m) => (highlighter = m.default));
    loading.then((h) => live && setLoaded(() => h)).catch(() => undefined);
    return () => {
      live = false;
    };
  }, [needed, loaded]);
  return loaded;
}

/** A code block with a Copy button. */
function CodeBlock({ node: _node, ...props }: ComponentProps<"pre"> & { node?: unknown }) {
  const { t } = useTranslation();
  const pre = useRef<HTMLPreElement>(null);
  return (
    <div className="code-block">
      <pre {...props} ref={pre} />
      <CopyButton className="copy-code" label={t("copyCode")} text={() => pre.current?.textContent ?? ""} />
    </div>
  );
}

const components: Components = {
  // Links in answers open beside the chat, and tell the target nothing about us. A citation
  // marker ([1], made by remarkCitations) opens its help-center article in the app.
  a: ({ node: _node, className, href, ...props }) =>
    className === "citation" && href ? (
      <Link to={href} className={className} {...props} />
    ) : (
      <a {...props} className={className} href={href} target="_blank" rel="noopener noreferrer nofollow" />
    ),
  // Images load only from this site and HELPLINE_IMAGE_ORIGINS: any other host would learn who
  // read the answer. Such an image is shown as a link to it, labelled with its description.
  img: ({ node: _node, src, alt, ...props }) => {
    const url = allowedImage(typeof src === "string" ? src : undefined);
    if (url) return <img {...props} src={url} alt={alt ?? ""} loading="lazy" referrerPolicy="no-referrer" />;
    if (!src || typeof src !== "string") return <>{alt}</>;
    return (
      <a href={src} target="_blank" rel="noopener noreferrer nofollow">
        {alt || src}
      </a>
    );
  },
  // Tables scroll on their own on a phone instead of widening the page.
  table: ({ node: _node, ...props }) => (
    <div className="table-scroll">
      <table {...props} />
    </div>
  ),
  pre: CodeBlock,
};

interface Props {
  children: string;
  className?: string;
  /** The sources an answer cites by number: "[n]" becomes a link to source n. */
  citations?: ReadonlyMap<number, Citation>;
}

/** Markdown (GFM: tables, lists, code) for messages and FAQ answers. react-markdown builds
 * React elements (no innerHTML) and drops javascript: URLs; htmlAsText keeps HTML inert. */
export function Markdown({ children, className, citations }: Props) {
  const highlight = useHighlighter(FENCE.test(children));
  const remarkPlugins = useMemo<PluggableList>(
    () => [remarkGfm, htmlAsText, ...(citations && citations.size > 0 ? [remarkCitations(citations)] : [])],
    [citations],
  );
  const rehypePlugins = useMemo<PluggableList>(() => (highlight ? [highlight] : []), [highlight]);
  return (
    <div className={className ?? "markdown"}>
      <ReactMarkdown remarkPlugins={remarkPlugins} rehypePlugins={rehypePlugins} components={components}>
        {children}
      </ReactMarkdown>
    </div>
  );
}
