import { QueryState } from "../QueryState";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { api, errorMessage } from "../../api/client";
import { CATEGORIES_KEY, fieldErrors, useCategories, type Category } from "../api";
import { CategoryItem } from "./categories/CategoryItem";
import { Field } from "./faqs/Field";
import { UnsavedChangesDialog, useUnsavedChanges } from "../unsaved/useUnsavedChanges";

/** Categories: one level of nesting, in sort_order; create, rename, reorder, delete. */
export default function CategoriesPage() {
  const { t } = useTranslation("admin");
  const queryClient = useQueryClient();
  const categories = useCategories();
  const [name, setName] = useState("");
  const [parent, setParent] = useState("");
  const [description, setDescription] = useState("");
  const [created, setCreated] = useState<string | null>(null);
  const tops = categories.data ?? [];
  // A category typed but not created yet: leaving warns.
  const unsaved = useUnsavedChanges(name.trim() !== "" || description.trim() !== "");

  const create = useMutation({
    mutationFn: async () => {
      const siblings: Category[] = parent ? (tops.find((c) => c.id === Number(parent))?.children ?? []) : tops;
      const last = Math.max(0, ...siblings.map((c) => c.sort_order));
      const { data, error } = await api.POST("/api/v1/faq-categories", {
        body: {
          name,
          parent_id: parent ? Number(parent) : null,
          description: description.trim() || null,
          sort_order: siblings.length ? last + 10 : 0,
        },
      });
      if (error) throw error;
      return data;
    },
    onMutate: () => setCreated(null),
    onSuccess: (data) => {
      setName("");
      setDescription("");
      setCreated(t("categories.created", { name: data.name }));
      void queryClient.invalidateQueries({ queryKey: CATEGORIES_KEY });
    },
  });
  const errors = create.error ? fieldErrors(create.error, ["name", "parent_id", "description"]) : { fields: {} as Record<string, string>, other: undefined };

  /** Move a category one place up or down among its siblings: renumber them 0, 10, 20... */
  const move = useMutation({
    mutationFn: async ({ siblings, index, delta }: { siblings: Category[]; index: number; delta: -1 | 1 }) => {
      const order = [...siblings];
      const [item] = order.splice(index, 1);
      if (!item) return;
      order.splice(index + delta, 0, item);
      for (const [i, c] of order.entries()) {
        if (c.sort_order === i * 10) continue;
        const { error } = await api.PUT("/api/v1/faq-categories/{category_id}", {
          params: { path: { category_id: c.id } },
          body: { sort_order: i * 10 },
        });
        if (error) throw error;
      }
    },
    onSettled: () => void queryClient.invalidateQueries({ queryKey: CATEGORIES_KEY }),
  });

  function onSubmit(e: FormEvent) {
    e.preventDefault();
    create.mutate();
  }

  const list = (siblings: Category[], depth: number) => (
    <ul className={depth ? "category-children" : "category-tree"}>
      {siblings.map((c, index) => (
        <CategoryItem
          key={c.id}
          category={c}
          first={index === 0}
          last={index === siblings.length - 1}
          moving={move.isPending}
          onMove={(delta) => move.mutate({ siblings, index, delta })}
        >
          {"children" in c && Array.isArray(c.children) && c.children.length > 0 && list(c.children as Category[], depth + 1)}
        </CategoryItem>
      ))}
    </ul>
  );

  return (
    <>
      <h1>{t("categories.title")}</h1>
      <section aria-labelledby="new-category" className="admin-panel">
        <h2 id="new-category">{t("categories.new")}</h2>
        <form onSubmit={onSubmit} className="form-grid" noValidate>
          <Field label={t("categories.name")} error={errors.fields.name}>
            {(p) => <input {...p} value={name} onChange={(e) => setName(e.target.value)} maxLength={100} required />}
          </Field>
          <Field label={t("categories.parent")} error={errors.fields.parent_id}>
            {(p) => (
              <select {...p} value={parent} onChange={(e) => setParent(e.target.value)}>
                <option value="">{t("categories.noParent")}</option>
                {tops.map((c) => (
                  <option key={c.id} value={String(c.id)}>
                    {c.name}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label={t("categories.description")} error={errors.fields.description}>
            {(p) => <input {...p} value={description} onChange={(e) => setDescription(e.target.value)} maxLength={2000} />}
          </Field>
          <div className="form-actions">
            <button type="submit" disabled={create.isPending}>
              {t("categories.create")}
            </button>
          </div>
        </form>
        {errors.other && (
          <p className="error" role="alert">
            {errors.other}
          </p>
        )}
        {created && (
          <p className="admin-success" role="status">
            {created}
          </p>
        )}
        <UnsavedChangesDialog blocker={unsaved.blocker} />
      </section>

      {move.error && (
        <p className="error" role="alert">
          {errorMessage(move.error)}
        </p>
      )}
      <QueryState query={categories} failed={t("categories.loadFailed")} empty={tops.length === 0} emptyText={t("categories.empty")}>
        {() => (
          <section aria-labelledby="category-list">
            <h2 id="category-list">{t("categories.list")}</h2>
            {list(tops, 0)}
          </section>
        )}
      </QueryState>
    </>
  );
}
