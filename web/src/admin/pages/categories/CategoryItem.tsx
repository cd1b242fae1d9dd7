import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { api, errorMessage } from "../../../api/client";
import { CATEGORIES_KEY, type Category } from "../../api";
import { ConfirmDialog } from "../../../components/ConfirmDialog";

interface Props {
  category: Category;
  first: boolean;
  last: boolean;
  moving: boolean;
  onMove(delta: -1 | 1): void;
  children?: ReactNode;
}

/** One category: its name (renamed in place), move up/down, delete with confirmation. */
export function CategoryItem({ category, first, last, moving, onMove, children }: Props) {
  const { t } = useTranslation("admin");
  const queryClient = useQueryClient();
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(category.name);
  const [confirming, setConfirming] = useState(false);
  const refresh = () => void queryClient.invalidateQueries({ queryKey: CATEGORIES_KEY });

  const rename = useMutation({
    mutationFn: async () => {
      const { error } = await api.PUT("/api/v1/faq-categories/{category_id}", {
        params: { path: { category_id: category.id } },
        body: { name },
      });
      if (error) throw error;
    },
    onSuccess: () => {
      setEditing(false);
      refresh();
    },
  });
  const remove = useMutation({
    mutationFn: async () => {
      const { error } = await api.DELETE("/api/v1/faq-categories/{category_id}", { params: { path: { category_id: category.id } } });
      if (error) throw error;
    },
    onSuccess: () => {
      setConfirming(false);
      refresh();
      void queryClient.invalidateQueries({ queryKey: ["admin", "faqs"] });
    },
  });

  function onRename(e: FormEvent) {
    e.preventDefault();
    rename.mutate();
  }

  return (
    <li>
      <div className="category-row">
        {editing ? (
          <form onSubmit={onRename} className="inline-form">
            <label>
              <span className="visually-hidden">{t("categories.newName", { name: category.name })}</span>
              <input value={name} onChange={(e) => setName(e.target.value)} maxLength={100} autoFocus />
            </label>
            <button type="submit" disabled={rename.isPending}>
              {t("common:save")}
            </button>
            <button
              type="button"
              className="secondary"
              onClick={() => {
                setEditing(false);
                setName(category.name);
                rename.reset();
              }}
            >
              {t("common:cancel")}
            </button>
          </form>
        ) : (
          <span className="category-label">
            <strong>{category.name}</strong> <code>{category.slug}</code>
          </span>
        )}
        {!editing && (
          <span className="row-actions">
            <button type="button" className="secondary" onClick={() => setEditing(true)} aria-label={t("categories.renameLabel", { name: category.name })}>
              {t("categories.rename")}
            </button>
            <button type="button" className="secondary icon" disabled={first || moving} onClick={() => onMove(-1)} aria-label={t("categories.moveUp", { name: category.name })}>
              ↑
            </button>
            <button type="button" className="secondary icon" disabled={last || moving} onClick={() => onMove(1)} aria-label={t("categories.moveDown", { name: category.name })}>
              ↓
            </button>
            <button type="button" className="danger" onClick={() => setConfirming(true)} aria-label={t("categories.deleteLabel", { name: category.name })}>
              {t("common:delete")}
            </button>
          </span>
        )}
      </div>
      {rename.error && (
        <p className="error" role="alert">
          {errorMessage(rename.error)}
        </p>
      )}
      {children}
      <ConfirmDialog
        open={confirming}
        title={t("categories.deleteTitle", { name: category.name })}
        confirmLabel={t("common:delete")}
        busy={remove.isPending}
        error={remove.error ? errorMessage(remove.error) : null}
        onConfirm={() => remove.mutate()}
        onCancel={() => {
          remove.reset();
          setConfirming(false);
        }}
      >
        <p>{t("categories.deleteBody")}</p>
      </ConfirmDialog>
    </li>
  );
}
