// Server state shared by the admin screens: categories (used by the FAQ form, the filters and
// their own screen) and small helpers for the API's error shape.
import { errorMessage, type Schemas } from "../api/client";
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

/** Field name -> message, from the API's validation errors (422 lists; 400/409 "field: message"). */
export function fieldErrors(error: unknown, fields: readonly string[]): { fields: Record<string, string>; other?: string } {
  const e = error as { detail?: unknown } | undefined;
  const result: Record<string, string> = {};
  const rest: string[] = [];
  if (Array.isArray(e?.detail)) {
    for (const d of e.detail as { loc?: unknown[]; msg?: string }[]) {
      const field = String(d.loc?.[1] ?? "");
      const msg = (d.msg ?? "").replace(/^Value error, /, "");
      if (fields.includes(field) && !result[field]) result[field] = msg;
      else rest.push([d.loc?.slice(1).join("."), msg].filter(Boolean).join(": "));
    }
  } else if (typeof e?.detail === "string") {
    const match = /^(\w+): (.*)$/s.exec(e.detail);
    if (match?.[1] && fields.includes(match[1])) result[match[1]] = match[2] ?? "";
    else if (/slug/i.test(e.detail) && fields.includes("slug")) result.slug = e.detail;
    else rest.push(e.detail);
  } else if (error) {
    rest.push(errorMessage(error));
  }
  return { fields: result, other: rest.length ? rest.join("; ") : undefined };
}
