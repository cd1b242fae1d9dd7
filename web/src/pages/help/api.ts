// Server state of the public help center. Every query key starts with "public": the
// AuthProvider keeps those on sign-out, since a visitor sees the same published FAQs.
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { api, type Schemas } from "../../api/client";

export type Faq = Schemas["FAQRead"];
/** A category with its subcategories (always a list here, empty for a subcategory). */
import type { CategoryTree as Category } from "../../api/categories";

export type { Category };
export { useCategories } from "../../api/categories";
export type SearchHit = Schemas["SearchHit"];

/** The FAQs counted on the start page: enough for any help center a person browses. */
const INDEX_PAGE = 100;
const INDEX_PAGES = 10;

/** The interface language as the API's two-letter code. */
export function useInterfaceLanguage(): string {
  const { i18n } = useTranslation();
  return (i18n.resolvedLanguage ?? i18n.language ?? "en").slice(0, 2);
}

/** The language to show FAQs in: the interface's, or every language when the knowledge base
 * has none in it yet (a help center in the wrong language beats an empty one). */
export function useContentLanguage() {
  const lang = useInterfaceLanguage();
  const query = useQuery({
    queryKey: ["public", "help", "has-language", lang],
    queryFn: async () => {
      const { data, error } = await api.GET("/api/v1/faqs", {
        params: { query: { language: lang, status: "published", limit: 1 } },
      });
      if (error) throw error;
      return data.items.length > 0;
    },
    staleTime: 5 * 60_000,
  });
  return {
    /** undefined: all languages. */
    language: query.data === false ? undefined : lang,
    fallback: query.data === false,
    ready: query.isSuccess || query.isError,
  };
}

/** Every published FAQ in the language (up to INDEX_PAGES pages), for counts and highlights. */
export function useFaqIndex(language: string | undefined, enabled = true) {
  return useQuery({
    queryKey: ["public", "help", "index", language ?? "all"],
    enabled,
    queryFn: async () => {
      const items: Faq[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < INDEX_PAGES; page++) {
        const { data, error } = await api.GET("/api/v1/faqs", {
          params: { query: { language, status: "published", limit: INDEX_PAGE, cursor } },
        });
        if (error) throw error;
        items.push(...data.items);
        if (!data.next_cursor) break;
        cursor = data.next_cursor;
      }
      return items;
    },
  });
}

/** The FAQs of one category (and its subcategories), a page at a time. */
export function useCategoryFaqs(slug: string, language: string | undefined, enabled: boolean) {
  return useInfiniteQuery({
    queryKey: ["public", "help", "category", slug, language ?? "all"],
    enabled,
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) => {
      const { data, error } = await api.GET("/api/v1/faqs", {
        params: { query: { category: slug, language, status: "published", limit: 20, cursor: pageParam } },
      });
      if (error) throw error;
      return data;
    },
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
}

/** A few published FAQs of a category (for "related questions"). */
export function useRelated(categoryId: number | null, language: string, limit: number) {
  return useQuery({
    queryKey: ["public", "help", "related", categoryId, language, limit],
    enabled: categoryId != null,
    queryFn: async () => {
      const { data, error } = await api.GET("/api/v1/faqs", {
        params: { query: { category: String(categoryId), language, status: "published", limit } },
      });
      if (error) throw error;
      return data.items;
    },
  });
}

export function useFaq(slug: string) {
  return useQuery({
    queryKey: ["public", "help", "faq", slug],
    queryFn: async () => {
      const { data, error } = await api.GET("/api/v1/faqs/by-slug/{slug}", { params: { path: { slug } } });
      if (error) throw error;
      return data;
    },
  });
}

/** The help center's search: the API's hybrid search (the one the chat's retrieval runs), with its
 * "did you mean" spelling of the query. */
export function useSearch(q: string, language: string | undefined, enabled: boolean) {
  return useQuery({
    queryKey: ["public", "help", "search", q, language ?? "all"],
    enabled: enabled && q.trim().length > 0,
    queryFn: async () => {
      const { data, error } = await api.GET("/api/v1/faqs/search", {
        params: { query: { q, language, status: "published", limit: 20, suggest: true } },
      });
      if (error || !data) throw error ?? new Error("No answer");
      return { items: data.items, suggestion: data.suggestion ?? null };
    },
  });
}

const DEVICE_KEY = "helpline.device";

/** A random id this browser keeps, so a visitor without an account votes once per FAQ. Not a
 * tracker: it is sent with votes only. A fresh one each time when storage is blocked. */
export function deviceId(storage: Pick<Storage, "getItem" | "setItem"> | undefined = globalThis.localStorage): string {
  try {
    const kept = storage?.getItem(DEVICE_KEY);
    if (kept && /^[A-Za-z0-9_-]{16,64}$/.test(kept)) return kept;
  } catch {
    // storage blocked: fall through
  }
  const made = newDeviceId();
  try {
    storage?.setItem(DEVICE_KEY, made);
  } catch {
    // storage blocked: this vote counts once all the same
  }
  return made;
}

function newDeviceId(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return "d-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const VOTES_KEY = "helpline.votes";

/** This browser's own votes (FAQ id -> helpful), to show a visitor what they said. */
export function keptVote(faqId: number): boolean | undefined {
  try {
    const votes = JSON.parse(localStorage.getItem(VOTES_KEY) ?? "{}") as Record<string, boolean>;
    return typeof votes[faqId] === "boolean" ? votes[faqId] : undefined;
  } catch {
    return undefined;
  }
}

function keepVote(faqId: number, helpful: boolean): void {
  try {
    const votes = JSON.parse(localStorage.getItem(VOTES_KEY) ?? "{}") as Record<string, boolean>;
    votes[faqId] = helpful;
    localStorage.setItem(VOTES_KEY, JSON.stringify(votes));
  } catch {
    // not kept: the vote still counted
  }
}

/** "Was this helpful?": as the signed-in user, or without an account as this device. */
export function useVote(faq: Faq, signedIn: boolean) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (helpful: boolean) => {
      const { data, error } = await api.POST("/api/v1/faqs/{faq_id}/vote", {
        params: { path: { faq_id: faq.id } },
        body: signedIn ? { helpful } : { helpful, device_id: deviceId() },
      });
      if (error || !data) throw error ?? new Error("No answer");
      return data;
    },
    onSuccess: (vote) => {
      if (!signedIn) keepVote(faq.id, vote.helpful);
      if (!faq.slug) return;
      queryClient.setQueryData<Faq>(["public", "help", "faq", faq.slug], (old) =>
        old ? { ...old, helpful_count: vote.helpful_count, not_helpful_count: vote.not_helpful_count } : old,
      );
    },
  });
}

/** "No such FAQ" from the API (as opposed to a failure worth retrying). */
export function isNotFound(error: unknown): boolean {
  return (error as { error?: string } | null)?.error === "not_found";
}

/** The ids of a category and its subcategories. */
export function categoryIds(category: Category): number[] {
  return [category.id, ...category.children.map((c) => c.id)];
}

/** Finds a category (top-level or sub) by slug, with its parent when it is a subcategory. */
export function findCategory(
  categories: Category[],
  slug: string,
): { category: Category; parent?: Category } | undefined {
  for (const top of categories) {
    if (top.slug === slug) return { category: top };
    const child = top.children.find((c) => c.slug === slug);
    if (child) return { category: { ...child, children: [] }, parent: top };
  }
  return undefined;
}

export function findCategoryById(
  categories: Category[],
  id: number | null | undefined,
): { category: Category; parent?: Category } | undefined {
  if (id == null) return undefined;
  for (const top of categories) {
    if (top.id === id) return { category: top };
    const child = top.children.find((c) => c.id === id);
    if (child) return { category: { ...child, children: [] }, parent: top };
  }
  return undefined;
}

/** Plain text of a Markdown answer, shortened on a word boundary: for excerpts and the meta
 * description (the same rule as the server's, so in-app navigation matches a fresh load). */
export function summary(text: string, limit = 160): string {
  const noLinks = text.replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1");
  return shorten(noLinks.replace(/[#*_`>|]+/g, ""), limit);
}

/** A cleaner plain text for the excerpts under links: no list markers, no tags. */
export function excerpt(text: string, limit = 140): string {
  const plain = text
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/<[^>]*>/g, " ")
    .replace(/^\s*(?:[-*+]|\d+[.)])\s+/gm, "")
    .replace(/[#*_`>|]+/g, "");
  return shorten(plain, limit);
}

function shorten(text: string, limit: number): string {
  const plain = text.split(/\s+/).filter(Boolean).join(" ");
  if (plain.length <= limit) return plain;
  const cut = plain.slice(0, limit - 1);
  const space = cut.lastIndexOf(" ");
  return (space > 0 ? cut.slice(0, space) : cut) + "…";
}
