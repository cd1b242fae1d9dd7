// Small pieces of the chat screen: following the newest message, suggested questions, export.
import { useQuery } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState } from "react";
import { api, authFetch } from "../../api/client";

/** Whether a scrolled page shows its end (within `slack` pixels). */
export function isNearBottom(scrollTop: number, viewport: number, height: number, slack = 80): boolean {
  return scrollTop + viewport >= height - slack;
}

const pageNearBottom = () =>
  isNearBottom(window.scrollY, window.innerHeight, document.documentElement.scrollHeight);

/** Follow the newest message: the page scrolls to its end while new text arrives, unless the user
 * scrolled up to read; `atBottom` tells whether to offer "jump to latest". */
export function useFollowLatest(contentKey: unknown, resetKey: unknown) {
  const follow = useRef(true);
  const [atBottom, setAtBottom] = useState(true);

  const toBottom = useCallback((smooth = false) => {
    follow.current = true;
    const reduce = typeof matchMedia === "function" && matchMedia("(prefers-reduced-motion: reduce)").matches;
    window.scrollTo({ top: document.documentElement.scrollHeight, behavior: smooth && !reduce ? "smooth" : "instant" });
    setAtBottom(true);
  }, []);

  useEffect(() => {
    // Only the user scrolls up: text arriving right after our own scroll to the end (before its
    // scroll event) must not read as "the user left the end".
    let lastY = window.scrollY;
    const onScroll = () => {
      const y = window.scrollY;
      const near = pageNearBottom();
      if (near) follow.current = true;
      else if (y < lastY) follow.current = false;
      lastY = y;
      setAtBottom(near || follow.current);
    };
    window.addEventListener("scroll", onScroll, { passive: true });
    return () => window.removeEventListener("scroll", onScroll);
  }, []);

  // Late layout (the handoff line, fonts, highlighted code) moves the end: stay on it while following.
  useEffect(() => {
    if (typeof ResizeObserver === "undefined") return;
    const observer = new ResizeObserver(() => {
      if (follow.current && !isNearBottom(window.scrollY, window.innerHeight, document.documentElement.scrollHeight, 1)) toBottom();
    });
    observer.observe(document.body);
    return () => observer.disconnect();
  }, [toBottom]);

  // Another conversation (or the first page of this one) opens at its newest message.
  useEffect(() => {
    follow.current = true;
  }, [resetKey]);

  useEffect(() => {
    if (follow.current) toBottom();
    else setAtBottom(pageNearBottom());
  }, [contentKey, toBottom]);

  return { atBottom, toBottom };
}

export function usePopularQuestions(language: string, enabled: boolean) {
  return useQuery({
    queryKey: ["faqs", "popular", language],
    enabled,
    staleTime: 5 * 60_000,
    queryFn: async () => {
      const { data, error } = await api.GET("/api/v1/faqs/popular", { params: { query: { language: language as "en", limit: 4 } } });
      if (error || !data) throw error ?? new Error("empty response");
      return data.items;
    },
  });
}

/** Download the conversation as a Markdown file (the server writes it: every page of it). */
export async function downloadMarkdown(conversationId: number): Promise<void> {
  const response = await authFetch(new Request(`${location.origin}/api/v1/conversations/${conversationId}/export`));
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = `conversation-${conversationId}.md`;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
