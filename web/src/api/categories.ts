// The knowledge base's category tree, read by the help center and the admin panel alike: one
// query key, so an admin's edit (which invalidates it) shows in the help center at once.
import { useQuery } from "@tanstack/react-query";
import { api, type Schemas } from "./client";

/** A top-level category with its subcategories (always a list, empty when it has none). */
export type CategoryTree = Omit<Schemas["CategoryTree"], "children"> & { children: Schemas["CategoryRead"][] };

export const CATEGORIES_KEY = ["categories"] as const;

export function useCategories() {
  return useQuery({
    queryKey: CATEGORIES_KEY,
    queryFn: async (): Promise<CategoryTree[]> => {
      const { data, error } = await api.GET("/api/v1/faq-categories");
      if (error) throw error;
      return data.items.map((c) => ({ ...c, children: c.children ?? [] }));
    },
    staleTime: 60_000,
  });
}
