import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { api } from "../../../api/client";
import type { Faq, FaqStatus } from "../../api";

export interface FaqFilters {
  status?: FaqStatus;
  category?: string;
  language?: string;
  q?: string;
}

export const FAQS_KEY = ["admin", "faqs"] as const;
const PAGE = 25;

/** One row of the list: a FAQ, or a search hit (which carries no status or dates). */
export type FaqRow = Pick<Faq, "id" | "question" | "slug" | "language" | "category_id"> & Partial<Faq>;

/** The FAQs matching the filters: keyset pages of the list, or (with words to look for) the
 * hybrid search's best 50, which has no further pages. */
export function useFaqList(filters: FaqFilters) {
  return useInfiniteQuery({
    queryKey: [...FAQS_KEY, "list", filters],
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }): Promise<{ items: FaqRow[]; next_cursor: string | null }> => {
      if (filters.q) {
        const { data, error } = await api.GET("/api/v1/faqs/search", {
          params: { query: { q: filters.q, status: filters.status, category: filters.category, language: filters.language, limit: 50 } },
        });
        if (error || !data) throw error ?? new Error("empty response");
        return { items: data.items.map((h) => ({ ...h, status: filters.status })), next_cursor: null };
      }
      const { data, error } = await api.GET("/api/v1/faqs", {
        params: {
          query: { status: filters.status, category: filters.category, language: filters.language, cursor: pageParam, limit: PAGE },
        },
      });
      if (error) throw error;
      return data;
    },
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
}

export function useFaq(id: number | undefined) {
  return useQuery({
    queryKey: [...FAQS_KEY, "one", id],
    enabled: id !== undefined,
    queryFn: async () => {
      const { data, error } = await api.GET("/api/v1/faqs/{faq_id}", { params: { path: { faq_id: id! } } });
      if (error) throw error;
      return data;
    },
  });
}
