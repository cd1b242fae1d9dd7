import type { Root } from "mdast";
import ReactMarkdown, { type Components } from "react-markdown";
import remarkGfm from "remark-gfm";
import { visit } from "unist-util-visit";
import { allowedImage } from "../imageOrigins";

/** Raw HTML in a message is shown as the text it is, never parsed into elements. */
function htmlAsText() {
  return (tree: Root) => {
    visit(tree, "html", (node, index, parent) => {
      if (parent && index !== undefined) parent.children[index] = { type: "text", value: node.value };
    });
  };
}

const components: Components = {
  // Links in answers open beside the chat, and tell the target nothing about us.
  a: ({ node: _node, ...props }) => <a {...props} target="_blank" rel="noopener noreferrer nofollow" />,
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
};

/** Markdown (GFM: tables, lists, code) for messages and FAQ answers. react-markdown builds
 * React elements (no innerHTML) and drops javascript: URLs; htmlAsText keeps HTML inert. */
export function Markdown({ children, className }: { children: string; className?: string }) {
  return (
    <div className={className ?? "markdown"}>
      <ReactMarkdown remarkPlugins={[remarkGfm, htmlAsText]} components={components}>
        {children}
      </ReactMarkdown>
    </div>
  );
}
