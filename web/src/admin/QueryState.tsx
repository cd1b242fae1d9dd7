import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { errorMessage } from "../api/client";

interface Query<D> {
  data: D | undefined;
  isPending: boolean;
  isError: boolean;
  error: unknown;
  refetch: () => unknown;
}

/** A screen's list in its four states: loading, failed (with the API's message and a retry),
 * empty, or the content, which renders only once the data is there. */
export function QueryState<D>({
  query,
  failed,
  empty,
  emptyText,
  children,
}: {
  query: Query<D>;
  failed: string;
  empty: boolean;
  emptyText: ReactNode;
  children: (data: D) => ReactNode;
}) {
  const { t } = useTranslation("common");
  if (query.isPending) return <p role="status">{t("loading")}</p>;
  if (query.isError) {
    return (
      <div role="alert" className="admin-error">
        <p>{errorMessage(query.error, failed)}</p>
        <button type="button" onClick={() => void query.refetch()}>
          {t("retry")}
        </button>
      </div>
    );
  }
  if (empty || query.data === undefined) return <p className="admin-empty">{emptyText}</p>;
  return <>{children(query.data)}</>;
}
