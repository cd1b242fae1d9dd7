import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";
import { api, errorMessage, type Schemas } from "../../api/client";
import { QueryState } from "../QueryState";
import { Field } from "./faqs/Field";
import { FAQS_KEY } from "./faqs/queries";

type Suggestion = Schemas["PhrasingSuggestionRead"];
const STATUSES = ["pending", "approved", "rejected", "all"] as const;
type Status = (typeof STATUSES)[number];
const KEY = ["admin", "phrasing-suggestions"] as const;

interface Review {
  item: Suggestion;
  action: "approve" | "reject";
  text?: string;
}

/** Questions customers rated helpful answers to, suggested as phrasings of the FAQ the answer
 * cited: approve one (edited first if need be) to add it to the FAQ, or reject it. */
export default function PhrasingsPage() {
  const { t, i18n } = useTranslation("admin");
  const queryClient = useQueryClient();
  const [status, setStatus] = useState<Status>("pending");
  const [done, setDone] = useState<string | null>(null);
  const suggestions = useInfiniteQuery({
    queryKey: [...KEY, status],
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) => {
      const { data, error } = await api.GET("/api/v1/faq-phrasing-suggestions", {
        params: { query: { status, cursor: pageParam, limit: 25 } },
      });
      if (error || !data) throw error ?? new Error("empty response");
      return data;
    },
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const rows = suggestions.data?.pages.flatMap((p) => p.items) ?? [];
  const review = useMutation({
    mutationFn: async ({ item, action, text }: Review) => {
      const path = { params: { path: { suggestion_id: item.id } } };
      const { data, error } =
        action === "approve"
          ? await api.POST("/api/v1/faq-phrasing-suggestions/{suggestion_id}/approve", { ...path, body: text === undefined ? undefined : { text } })
          : await api.POST("/api/v1/faq-phrasing-suggestions/{suggestion_id}/reject", path);
      if (error || !data) throw error ?? new Error("empty response");
      return data;
    },
    onMutate: () => setDone(null),
    onSuccess: (data) => {
      setDone(data.status === "approved" ? t("phrasings.approvedMessage", { question: data.faq_question }) : t("phrasings.rejectedMessage"));
      void queryClient.invalidateQueries({ queryKey: KEY });
      void queryClient.invalidateQueries({ queryKey: [...FAQS_KEY, "one", data.faq_id] });
    },
  });
  const date = (iso: string) => new Date(iso).toLocaleString(i18n.language, { dateStyle: "medium", timeStyle: "short" });

  return (
    <>
      <h1>{t("phrasings.title")}</h1>
      <p className="admin-muted">{t("phrasings.intro")}</p>
      <div className="admin-filters">
        <label>
          {t("phrasings.show")}
          <select value={status} onChange={(e) => setStatus(e.target.value as Status)}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {t(`phrasings.${s}`)}
              </option>
            ))}
          </select>
        </label>
      </div>
      <div aria-live="polite">{done && <p className="admin-success">{done}</p>}</div>
      {review.isError && (
        <p className="error" role="alert">
          {errorMessage(review.error, t("phrasings.reviewFailed"))}
        </p>
      )}
      <QueryState query={suggestions} failed={t("phrasings.loadFailed")} empty={rows.length === 0} emptyText={t("phrasings.empty")}>
        {() => (
          <ul className="suggestion-list">
            {rows.map((item) => (
              <SuggestionItem key={item.id} item={item} date={date} busy={review.isPending} onReview={(action, text) => review.mutate({ item, action, text })} />
            ))}
          </ul>
        )}
      </QueryState>
      {suggestions.hasNextPage && (
        <button type="button" className="secondary load-more" disabled={suggestions.isFetchingNextPage} onClick={() => void suggestions.fetchNextPage()}>
          {suggestions.isFetchingNextPage ? t("common:loading") : t("phrasings.loadMore")}
        </button>
      )}
    </>
  );
}

function SuggestionItem({
  item,
  date,
  busy,
  onReview,
}: {
  item: Suggestion;
  date(iso: string): string;
  busy: boolean;
  onReview(action: "approve" | "reject", text?: string): void;
}) {
  const { t } = useTranslation("admin");
  const [text, setText] = useState(item.text);
  const pending = item.status === "pending";
  return (
    <li className="admin-panel">
      <h2>“{item.text}”</h2>
      <p className="admin-muted">
        {t("phrasings.forFaq")}: <Link to={`/admin/faqs/${item.faq_id}`}>{item.faq_question}</Link> · {item.faq_language} ·{" "}
        {t("phrasings.asked", { date: date(item.created_at) })}
        {!pending && <> · {t(`phrasings.${item.status}`)}</>}
      </p>
      {pending && (
        <div className="suggestion-actions">
          <Field label={t("phrasings.edit")}>{(p) => <input {...p} value={text} maxLength={300} onChange={(e) => setText(e.target.value)} />}</Field>
          <button type="button" disabled={busy || !text.trim()} onClick={() => onReview("approve", text.trim() === item.text ? undefined : text)}>
            {t("phrasings.approve")}
            <span className="visually-hidden">: {item.text}</span>
          </button>
          <button type="button" className="secondary" disabled={busy} onClick={() => onReview("reject")}>
            {t("phrasings.reject")}
            <span className="visually-hidden">: {item.text}</span>
          </button>
        </div>
      )}
    </li>
  );
}
