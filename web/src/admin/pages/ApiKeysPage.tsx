import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router-dom";
import { api, errorMessage } from "../../api/client";
import { QueryState } from "../QueryState";

const KEY = ["admin", "api-keys"] as const;

/** Every user's API keys (administrators): by owner (user id) and state, newest first, with
 * their last use; one click revokes a key. The filters live in the address (?user=12&state=active). */
export default function ApiKeysPage() {
  const { t, i18n } = useTranslation("admin");
  const [params, setParams] = useSearchParams();
  const queryClient = useQueryClient();
  const userId = Number(params.get("user")) || undefined;
  const state = params.get("state");
  const active = state === "active" ? true : state === "revoked" ? false : undefined;

  const keys = useInfiniteQuery({
    queryKey: [...KEY, userId, active],
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) => {
      const { data, error } = await api.GET("/api/v1/admin/api-keys", {
        params: { query: { user_id: userId, active, cursor: pageParam, limit: 50 } },
      });
      if (error || !data) throw error ?? new Error("empty response");
      return data;
    },
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const revoke = useMutation({
    mutationFn: async (id: number) => {
      const { data, error } = await api.POST("/api/v1/admin/api-keys/{key_id}/revoke", { params: { path: { key_id: id } } });
      if (error || !data) throw error ?? new Error("empty response");
      return data;
    },
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: KEY }),
  });

  function go(next: Record<string, string | undefined>) {
    const merged = new URLSearchParams(params);
    for (const [k, v] of Object.entries(next)) {
      if (!v) merged.delete(k);
      else merged.set(k, v);
    }
    setParams(merged);
  }
  const when = (iso: string | null | undefined) =>
    iso ? new Date(iso).toLocaleString(i18n.language, { dateStyle: "medium", timeStyle: "short" }) : t("apiKeys.never");
  const rows = keys.data?.pages.flatMap((p) => p.items) ?? [];

  return (
    <>
      <h1>{t("apiKeys.title")}</h1>
      <p className="admin-muted">{t("apiKeys.intro")}</p>
      <div className="admin-filters">
        <label>
          {t("apiKeys.user")}
          <input
            type="number"
            min={1}
            defaultValue={userId ?? ""}
            onChange={(e) => go({ user: e.target.value || undefined })}
          />
        </label>
        <label>
          {t("apiKeys.state")}
          <select value={state ?? ""} onChange={(e) => go({ state: e.target.value || undefined })}>
            <option value="">{t("apiKeys.all")}</option>
            <option value="active">{t("apiKeys.active")}</option>
            <option value="revoked">{t("apiKeys.revoked")}</option>
          </select>
        </label>
      </div>
      <QueryState query={keys} failed={t("apiKeys.loadFailed")} empty={rows.length === 0} emptyText={t("apiKeys.empty")}>
        {() => (
          <div className="admin-table-wrap">
            <table className="admin-table">
              <thead>
                <tr>
                  <th scope="col">{t("apiKeys.name")}</th>
                  <th scope="col">{t("apiKeys.owner")}</th>
                  <th scope="col">{t("apiKeys.prefix")}</th>
                  <th scope="col">{t("apiKeys.scopes")}</th>
                  <th scope="col">{t("apiKeys.created")}</th>
                  <th scope="col">{t("apiKeys.lastUsed")}</th>
                  <th scope="col">{t("apiKeys.state")}</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((k) => (
                  <tr key={k.id}>
                    <th scope="row">{k.name}</th>
                    <td>
                      <button type="button" className="link" onClick={() => go({ user: String(k.user_id) })}>
                        {k.user_email}
                      </button>
                    </td>
                    <td>
                      <code>hl_{k.prefix}_…</code>
                    </td>
                    <td>{k.scopes.join(", ")}</td>
                    <td>{when(k.created_at)}</td>
                    <td>{when(k.last_used_at)}</td>
                    <td>
                      {k.revoked_at ? (
                        t("apiKeys.revokedOn", { when: when(k.revoked_at) })
                      ) : (
                        <button
                          type="button"
                          className="secondary"
                          aria-label={t("apiKeys.revokeNamed", { name: k.name, email: k.user_email })}
                          disabled={revoke.isPending}
                          onClick={() => revoke.mutate(k.id)}
                        >
                          {t("apiKeys.revoke")}
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </QueryState>
      {revoke.isError && (
        <p role="alert" className="admin-error">
          {errorMessage(revoke.error, t("apiKeys.revokeFailed"))}
        </p>
      )}
      {keys.hasNextPage && (
        <button type="button" onClick={() => void keys.fetchNextPage()} disabled={keys.isFetchingNextPage}>
          {t("apiKeys.more")}
        </button>
      )}
    </>
  );
}
