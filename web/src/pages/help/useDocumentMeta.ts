import { useEffect } from "react";

function metaDescription(): HTMLMetaElement {
  let tag = document.head.querySelector<HTMLMetaElement>('meta[name="description"]');
  if (!tag) {
    tag = document.createElement("meta");
    tag.name = "description";
    document.head.appendChild(tag);
  }
  return tag;
}

/** Sets the page's <title>, meta description and canonical link while a help page is shown,
 * as the server does for a fresh load of /help/:slug, so in-app navigation matches what crawlers
 * read. The previous title and description come back when the page goes away. */
export function useDocumentMeta({
  title,
  description,
  canonicalPath,
}: {
  title?: string;
  description?: string;
  canonicalPath?: string;
}): void {
  useEffect(() => {
    if (!title) return;
    const previous = document.title;
    document.title = title;
    return () => {
      document.title = previous;
    };
  }, [title]);

  useEffect(() => {
    if (!description) return;
    const tag = metaDescription();
    const previous = tag.content;
    tag.content = description;
    return () => {
      tag.content = previous;
    };
  }, [description]);

  useEffect(() => {
    // A canonical link injected by the server for another FAQ must not stay on this page.
    document.head.querySelectorAll('link[rel="canonical"]').forEach((link) => link.remove());
    if (!canonicalPath) return;
    const link = document.createElement("link");
    link.rel = "canonical";
    link.href = new URL(canonicalPath, window.location.origin).href;
    document.head.appendChild(link);
    return () => link.remove();
  }, [canonicalPath]);
}
