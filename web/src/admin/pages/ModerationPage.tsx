import { QueryState } from "../QueryState";
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type KeyboardEvent } from "react";
import { useTranslation } from "react-i18next";
import { api, errorMessage } from "../../api/client";
import { useAuth } from "../../auth/AuthProvider";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { DECISIONS, QueueRow, type Decision, type QueueItem } from "./moderation/QueueRow";

const MODERATION_KEY = ["admin", "moderation"] as const;
const TABS = ["pending", "reviewed"] as const;
type Tab = (typeof TABS)[number];

interface Pending {
  item: QueueItem;
  decision: Decision;
  note: string;
}

/** Messages the moderation (or staff) flagged: pending and reviewed tabs, a category filter, and
 * a decision per message. Suspending the author is confirmed first. */
export default function ModerationPage() {
  const { t } = useTranslation("admin");
  const { user: me } = useAuth();
  const queryClient = useQueryClient();
  const [tab, setTab] = useState<Tab>("pending");
  const [category, setCategory] = useState("");
  const [done, setDone] = useState<string | null>(null);
  const [confirming, setConfirming] = useState<Pending | null>(null);

  const categories = useQuery({
    queryKey: [...MODERATION_KEY, "categories"],
    queryFn: async () => {
      const { data, error } = await api.GET("/api/v1/admin/moderation/categories");
      if (error || !data) throw error ?? new Error("empty response");
      return data;
    },
  });
  const queue = useInfiniteQuery({
    queryKey: [...MODERATION_KEY, "queue", tab, category],
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) => {
      const { data, error } = await api.GET("/api/v1/admin/moderation/queue", {
        params: { query: { status: tab, category: category || undefined, cursor: pageParam, limit: 25 } },
      });
      if (error || !data) throw error ?? new Error("empty response");
      return data;
    },
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const rows = queue.data?.pages.flatMap((p) => p.items) ?? [];

  const review = useMutation({
    mutationFn: async ({ item, decision, note }: Pending) => {
      const { data, error } = await api.POST("/api/v1/admin/moderation/messages/{message_id}/review", {
        params: { path: { message_id: item.message_id } },
        body: { decision, note: note.trim() || null },
      });
      if (error || !data) throw error ?? new Error("empty response");
      return data;
    },
    onMutate: () => setDone(null),
    onSuccess: (data) => {
      setConfirming(null);
      const decision = data.review?.decision ?? "confirm";
      setDone(t(`moderation.done.${decision}`, { email: data.author?.email ?? "" }));
      void queryClient.invalidateQueries({ queryKey: MODERATION_KEY });
    },
  });

  function decide(item: QueueItem, decision: Decision, note: string) {
    review.reset();
    if (decision === "suspend_user") setConfirming({ item, decision, note });
    else review.mutate({ item, decision, note });
  }

  /** Pending messages take any decision; a reviewed one only an administrator's different one. */
  function decisionsFor(item: QueueItem): Decision[] {
    if (!item.review) return DECISIONS;
    return me?.role === "admin" ? DECISIONS.filter((d) => d !== item.review?.decision) : [];
  }

  function onTabKey(e: KeyboardEvent<HTMLButtonElement>) {
    if (e.key !== "ArrowRight" && e.key !== "ArrowLeft") return;
    const next = TABS[(TABS.indexOf(tab) + (e.key === "ArrowRight" ? 1 : TABS.length - 1)) % TABS.length] ?? "pending";
    setTab(next);
    document.getElementById(`moderation-tab-${next}`)?.focus();
  }

  return (
    <>
      <h1>{t("moderation.title")}</h1>
      <p className="admin-muted">{t("moderation.intro")}</p>
      <div className="admin-filters">
        <div role="tablist" aria-label={t("moderation.tabsLabel")} className="moderation-tabs">
          {TABS.map((name) => (
            <button
              key={name}
              id={`moderation-tab-${name}`}
              type="button"
              role="tab"
              aria-selected={tab === name}
              aria-controls="moderation-panel"
              tabIndex={tab === name ? 0 : -1}
              className={tab === name ? undefined : "secondary"}
              onClick={() => setTab(name)}
              onKeyDown={onTabKey}
            >
              {name === "pending" && categories.data ? t("moderation.tabs.pendingCount", { count: categories.data.pending }) : t(`moderation.tabs.${name}`)}
            </button>
          ))}
        </div>
        <label>
          {t("moderation.category")}
          <select value={category} onChange={(e) => setCategory(e.target.value)}>
            <option value="">{t("moderation.allCategories")}</option>
            {(categories.data?.items ?? []).map((c) => (
              <option key={c.category} value={c.category}>
                {t("moderation.categoryOption", { category: c.category, count: c.pending })}
              </option>
            ))}
          </select>
        </label>
      </div>
      <div aria-live="polite">{done && <p className="admin-success">{done}</p>}</div>
      {review.isError && !confirming && (
        <p className="error" role="alert">
          {errorMessage(review.error)}
        </p>
      )}
      <div role="tabpanel" id="moderation-panel" aria-labelledby={`moderation-tab-${tab}`}>
        <QueryState query={queue} failed={t("moderation.loadFailed")} empty={rows.length === 0} emptyText={t(`moderation.empty.${tab}`)}>
          {() => (
            <div className="admin-table-wrap">
              <table className="admin-table moderation-table">
                <thead>
                  <tr>
                    <th scope="col">{t("moderation.message")}</th>
                    <th scope="col">{t("moderation.author")}</th>
                    <th scope="col">{t("moderation.categories")}</th>
                    <th scope="col">{t("moderation.review")}</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((item) => (
                    <QueueRow key={item.message_id} item={item} decisions={decisionsFor(item)} busy={review.isPending} onDecide={(d, note) => decide(item, d, note)} />
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </QueryState>
        {queue.hasNextPage && (
          <button type="button" className="secondary load-more" disabled={queue.isFetchingNextPage} onClick={() => void queue.fetchNextPage()}>
            {queue.isFetchingNextPage ? t("common:loading") : t("faqs.loadMore")}
          </button>
        )}
      </div>
      <ConfirmDialog
        open={confirming !== null}
        title={t("moderation.suspendTitle")}
        confirmLabel={t("moderation.actions.suspend_user")}
        busy={review.isPending}
        error={review.isError ? errorMessage(review.error) : null}
        onConfirm={() => confirming && review.mutate(confirming)}
        onCancel={() => {
          review.reset();
          setConfirming(null);
        }}
      >
        {confirming && <p>{t("moderation.suspendWarning", { email: confirming.item.author?.email ?? "" })}</p>}
      </ConfirmDialog>
    </>
  );
}
