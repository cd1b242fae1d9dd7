import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useRef, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { useLocation, useNavigate } from "react-router-dom";
import { api, type Schemas } from "../../../api/client";
import { useAuth } from "../../../auth/AuthProvider";
import { FAQ_LANGUAGES, fieldErrors, flattenCategories, useCategories, type Faq, type FaqStatus } from "../../api";
import { FaqActions } from "./FaqActions";
import { Field } from "./Field";
import { MarkdownEditor } from "./MarkdownEditor";
import { PhrasingsEditor } from "./PhrasingsEditor";
import { StatusBadge } from "./StatusBadge";
import { FAQS_KEY } from "./queries";
import { isDirty, UnsavedChangesDialog, useUnsavedChanges } from "../../unsaved/useUnsavedChanges";

const FIELDS = ["question", "answer", "category_id", "keywords", "phrasings", "language", "slug", "meta_title", "meta_description", "priority", "status"] as const;

interface Values {
  question: string;
  answer: string;
  category_id: string;
  keywords: string;
  phrasings: string[];
  language: string;
  slug: string;
  meta_title: string;
  meta_description: string;
  priority: string;
}

function initial(faq?: Faq): Values {
  return {
    question: faq?.question ?? "",
    answer: faq?.answer ?? "",
    category_id: faq?.category_id ? String(faq.category_id) : "",
    keywords: faq?.keywords.join(", ") ?? "",
    phrasings: faq?.phrasings ?? [],
    language: faq?.language ?? "en",
    slug: faq?.slug ?? "",
    meta_title: faq?.meta_title ?? "",
    meta_description: faq?.meta_description ?? "",
    priority: String(faq?.priority ?? 0),
  };
}

function body(v: Values) {
  return {
    question: v.question,
    answer: v.answer,
    category_id: v.category_id ? Number(v.category_id) : null,
    keywords: v.keywords.split(",").map((k) => k.trim()).filter(Boolean),
    phrasings: v.phrasings.map((p) => p.trim()).filter(Boolean),
    language: v.language,
    meta_title: v.meta_title.trim() || null,
    meta_description: v.meta_description.trim() || null,
    priority: Number(v.priority) || 0,
    ...(v.slug.trim() ? { slug: v.slug.trim() } : {}),
  };
}

/** Create or edit a FAQ. What was typed stays in the form whatever the API answers. */
export function FaqForm({ faq }: { faq?: Faq }) {
  const { t } = useTranslation("admin");
  const { user } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const queryClient = useQueryClient();
  const categories = useCategories();
  const [values, setValues] = useState(() => initial(faq));
  // What the server has: the form is "dirty" (leaving it warns) while the values differ from it.
  const [savedValues, setSavedValues] = useState(() => initial(faq));
  const sent = useRef(values); // the values of the save in flight
  const unsaved = useUnsavedChanges(isDirty(savedValues, values));
  const [saved, setSaved] = useState<string | null>(() => ((location.state as { saved?: boolean } | null)?.saved ? t("editor.created") : null));

  const save = useMutation({
    mutationFn: async (status?: FaqStatus): Promise<Faq> => {
      sent.current = values;
      const payload = { ...body(values), ...(status ? { status } : {}) };
      const { data, error } = faq
        ? await api.PUT("/api/v1/faqs/{faq_id}", { params: { path: { faq_id: faq.id } }, body: payload })
        : await api.POST("/api/v1/faqs", { body: { ...(payload as Schemas["FAQCreate"]), status: status ?? "draft" } });
      if (error || !data) throw error ?? new Error("empty response");
      return data;
    },
    onMutate: () => setSaved(null),
    onSuccess: (data, status) => {
      queryClient.setQueryData([...FAQS_KEY, "one", data.id], data);
      void queryClient.invalidateQueries({ queryKey: [...FAQS_KEY, "list"] });
      if (!faq) {
        unsaved.release();
        navigate(`/admin/faqs/${data.id}`, { replace: true, state: { saved: true } });
        return;
      }
      // The API cleans phrasings (trimmed, repeats and the question dropped): show what it kept.
      const kept = { ...sent.current, slug: data.slug ?? sent.current.slug, phrasings: data.phrasings ?? sent.current.phrasings };
      setSavedValues(kept);
      setValues((v) => ({ ...v, slug: data.slug ?? v.slug, phrasings: data.phrasings ?? v.phrasings }));
      setSaved(status ? t(`editor.statusChanged.${status}`) : t("editor.saved"));
    },
  });
  const errors = save.error ? fieldErrors(save.error, FIELDS) : { fields: {} as Record<string, string>, other: undefined };
  const set = (key: keyof Values) => (value: string) => setValues((v) => ({ ...v, [key]: value }));
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate(undefined);
  };
  const languages: string[] = [...FAQ_LANGUAGES];
  if (!languages.includes(values.language)) languages.push(values.language);

  return (
    <form className="faq-form" onSubmit={onSubmit} noValidate>
      <div className="admin-title">
        <h1>{faq ? t("editor.editTitle") : t("editor.newTitle")}</h1>
        {faq && <StatusBadge status={faq.status} />}
      </div>

      <Field label={t("faqs.question")} error={errors.fields.question}>
        {(p) => <input {...p} value={values.question} onChange={(e) => set("question")(e.target.value)} required maxLength={2000} />}
      </Field>
      <MarkdownEditor
        label={t("editor.answer")}
        hint={t("editor.answerHint")}
        value={values.answer}
        onChange={set("answer")}
        error={errors.fields.answer}
      />
      <PhrasingsEditor value={values.phrasings} onChange={(phrasings) => setValues((v) => ({ ...v, phrasings }))} error={errors.fields.phrasings} />
      <div className="form-grid">
        <Field label={t("faqs.category")} error={errors.fields.category_id}>
          {(p) => (
            <select {...p} value={values.category_id} onChange={(e) => set("category_id")(e.target.value)}>
              <option value="">{t("faqs.uncategorised")}</option>
              {flattenCategories(categories.data).map(({ category, depth }) => (
                <option key={category.id} value={String(category.id)}>
                  {depth ? "— " : ""}
                  {category.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t("faqs.language")} error={errors.fields.language}>
          {(p) => (
            <select {...p} value={values.language} onChange={(e) => set("language")(e.target.value)}>
              {languages.map((l) => (
                <option key={l} value={l}>
                  {t(`languages.${l}`, { defaultValue: l })}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t("editor.keywords")} hint={t("editor.keywordsHint")} error={errors.fields.keywords}>
          {(p) => <input {...p} value={values.keywords} onChange={(e) => set("keywords")(e.target.value)} />}
        </Field>
        <Field label={t("editor.priority")} hint={t("editor.priorityHint")} error={errors.fields.priority}>
          {(p) => <input {...p} type="number" min={-1000} max={1000} value={values.priority} onChange={(e) => set("priority")(e.target.value)} />}
        </Field>
      </div>
      <fieldset className="seo-fields">
        <legend>{t("editor.seo")}</legend>
        <Field label={t("editor.slug")} hint={faq ? t("editor.slugHintEdit") : t("editor.slugHintNew")} error={errors.fields.slug}>
          {(p) => <input {...p} value={values.slug} onChange={(e) => set("slug")(e.target.value)} maxLength={255} />}
        </Field>
        <Field label={t("editor.metaTitle")} error={errors.fields.meta_title}>
          {(p) => <input {...p} value={values.meta_title} onChange={(e) => set("meta_title")(e.target.value)} maxLength={255} />}
        </Field>
        <Field label={t("editor.metaDescription")} error={errors.fields.meta_description}>
          {(p) => <textarea {...p} rows={3} value={values.meta_description} onChange={(e) => set("meta_description")(e.target.value)} maxLength={1000} />}
        </Field>
      </fieldset>

      {(errors.other || errors.fields.status) && (
        <p className="error" role="alert">
          {errors.other ?? errors.fields.status}
        </p>
      )}
      {Object.keys(errors.fields).length > 0 && !errors.other && (
        <p className="error" role="alert">
          {t("editor.fixFields")}
        </p>
      )}
      {saved && (
        <p className="admin-success" role="status">
          {saved}
        </p>
      )}
      <UnsavedChangesDialog blocker={unsaved.blocker} />
      <FaqActions
        faq={faq}
        busy={save.isPending}
        canDelete={user?.role === "admin"}
        onStatus={(status) => save.mutate(status)}
      />
    </form>
  );
}
