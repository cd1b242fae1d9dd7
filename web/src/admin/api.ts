// Server state shared by the admin screens: categories (used by the FAQ form, the filters and
// their own screen) and small helpers for the API's error shape.
import { apiFieldErrors, errorMessage, type Schemas } from "../api/client";
import type { CategoryTree } from "../api/categories";

export { CATEGORIES_KEY, useCategories, type CategoryTree } from "../api/categories";

export type Category = Schemas["CategoryRead"];
export type Faq = Schemas["FAQRead"];
export type FaqStatus = Schemas["FAQStatus"];

export const FAQ_STATUSES: FaqStatus[] = ["draft", "published", "archived"];
export const FAQ_LANGUAGES = ["en", "es", "fr", "de"] as const;

/** Categories in display order, children right after their parent, with their depth. */
export function flattenCategories(tree: CategoryTree[] | undefined): { category: Category; depth: number }[] {
  const out: { category: Category; depth: number }[] = [];
  for (const top of tree ?? []) {
    out.push({ category: top, depth: 0 });
    for (const child of top.children ?? []) out.push({ category: child, depth: 1 });
  }
  return out;
}

/** Field name -> message, from the API's field errors (client.apiFieldErrors: its 422 `errors`
 * list, FastAPI's default list, or a 400's "field: message"), each on its own field; the rest
 * (another field, or none) in `other`. A slug conflict (409) goes on the slug. */
export function fieldErrors(error: unknown, fields: readonly string[]): { fields: Record<string, string>; other?: string } {
  const result: Record<string, string> = {};
  const rest: string[] = [];
  const found = apiFieldErrors(error);
  for (const f of found) {
    const name = f.field?.split(".")[0] ?? "";
    if (fields.includes(name)) {
      if (!result[name]) result[name] = f.message;
    } else rest.push(f.field ? `${f.field}: ${f.message}` : f.message);
  }
  if (found.length === 0 && error) {
    const detail = (error as { detail?: unknown }).detail;
    if (typeof detail === "string" && /slug/i.test(detail) && fields.includes("slug")) result.slug = detail;
    else rest.push(errorMessage(error));
  }
  return { fields: result, other: rest.length ? rest.join("; ") : undefined };
}
