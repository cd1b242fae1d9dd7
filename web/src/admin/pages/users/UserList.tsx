import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { api, errorMessage } from "../../../api/client";
import { useAuth } from "../../../auth/AuthProvider";
import { ConfirmDialog } from "../../../components/ConfirmDialog";
import { QueryState } from "../../QueryState";
import { describeChange, isLoss, needsConfirmation, UserRow, USERS_KEY, type Change, type User } from "./UserRow";

/** Users (admins only): search by email or username, change role and status, erase an account;
 * each email opens the account's page. */
export function UserList() {
  const { t } = useTranslation("admin");
  const { user: me } = useAuth();
  const [text, setText] = useState("");
  const [q, setQ] = useState("");
  const users = useInfiniteQuery({
    queryKey: [...USERS_KEY, q],
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) => {
      const { data, error } = await api.GET("/api/v1/admin/users", { params: { query: { q: q || undefined, cursor: pageParam, limit: 50 } } });
      if (error || !data) throw error ?? new Error("empty response");
      return data;
    },
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const rows = users.data?.pages.flatMap((p) => p.items) ?? [];
  const queryClient = useQueryClient();
  const [pending, setPending] = useState<{ user: User; change: Change } | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const update = useMutation({
    mutationFn: async ({ user, change }: { user: User; change: Change }) => {
      const { data, error } = await api.PATCH("/api/v1/admin/users/{user_id}", { params: { path: { user_id: user.id } }, body: change });
      if (error || !data) throw error ?? new Error("empty response");
      return data;
    },
    onMutate: () => setDone(null),
    onSuccess: (data) => {
      setPending(null);
      setDone(t("users.updated", { email: data.email, role: t(`roles.${data.role}`), status: t(`userStatus.${data.status}`) }));
      void queryClient.invalidateQueries({ queryKey: USERS_KEY });
    },
  });

  const [erasing, setErasing] = useState<User | null>(null);
  const erase = useMutation({
    mutationFn: async (user: User) => {
      const { error } = await api.DELETE("/api/v1/admin/users/{user_id}", { params: { path: { user_id: user.id } } });
      if (error) throw error;
      return user;
    },
    onMutate: () => setDone(null),
    onSuccess: (user) => {
      setErasing(null);
      setDone(t("users.erased", { email: user.email }));
      void queryClient.invalidateQueries({ queryKey: USERS_KEY });
    },
  });

  function propose(user: User, change: Change) {
    update.reset();
    if (needsConfirmation(user, change)) setPending({ user, change });
    else update.mutate({ user, change });
  }

  function onSearch(e: FormEvent) {
    e.preventDefault();
    setQ(text.trim());
  }

  return (
    <>
      <h1>{t("users.title")}</h1>
      <form role="search" aria-label={t("users.searchLabel")} onSubmit={onSearch} className="admin-search">
        <label>
          <span className="visually-hidden">{t("users.searchLabel")}</span>
          <input type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder={t("users.searchPlaceholder")} maxLength={100} />
        </label>
        <button type="submit" className="secondary">
          {t("faqs.search")}
        </button>
      </form>
      <div aria-live="polite">
        {done && <p className="admin-success">{done}</p>}
      </div>
      {update.isError && !pending && (
        <p className="error" role="alert">
          {errorMessage(update.error)}
        </p>
      )}
      <QueryState query={users} failed={t("users.loadFailed")} empty={rows.length === 0} emptyText={q ? t("users.noMatch", { q }) : t("users.empty")}>
        {() => (
          <div className="admin-table-wrap">
            <table className="admin-table users-table">
              <thead>
                <tr>
                  <th scope="col">{t("users.user")}</th>
                  <th scope="col">{t("users.role")}</th>
                  <th scope="col">{t("users.status")}</th>
                  <th scope="col" className="wide-only">
                    {t("users.joined")}
                  </th>
                  <th scope="col">
                    <span className="visually-hidden">{t("users.erase")}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map((u) => (
                  <UserRow key={u.id} user={u} self={u.id === me?.id} busy={update.isPending || erase.isPending} onChange={(c) => propose(u, c)} onErase={() => {
                    erase.reset();
                    setErasing(u);
                  }} />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </QueryState>
      {users.hasNextPage && (
        <button type="button" className="secondary load-more" disabled={users.isFetchingNextPage} onClick={() => void users.fetchNextPage()}>
          {users.isFetchingNextPage ? t("common:loading") : t("faqs.loadMore")}
        </button>
      )}
      <ConfirmDialog
        open={pending !== null}
        title={t("users.confirmTitle")}
        confirmLabel={t("users.confirm")}
        tone={pending && isLoss(pending.user, pending.change) ? "danger" : "normal"}
        busy={update.isPending}
        error={update.isError ? errorMessage(update.error) : null}
        onConfirm={() => pending && update.mutate(pending)}
        onCancel={() => {
          update.reset();
          setPending(null);
        }}
      >
        {pending && <p>{describeChange(t, pending.user, pending.change)}</p>}
        {pending && "status" in pending.change && <p>{t("users.signedOut")}</p>}
      </ConfirmDialog>
      <ConfirmDialog
        open={erasing !== null}
        title={t("users.eraseTitle")}
        confirmLabel={t("users.eraseConfirm")}
        busy={erase.isPending}
        error={erase.isError ? errorMessage(erase.error) : null}
        onConfirm={() => erasing && erase.mutate(erasing)}
        onCancel={() => {
          erase.reset();
          setErasing(null);
        }}
      >
        {erasing && <p>{t("users.eraseWarning", { email: erasing.email })}</p>}
      </ConfirmDialog>
    </>
  );
}
