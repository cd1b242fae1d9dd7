import { useTranslation } from "react-i18next";
import type { FaqStatus } from "../../api";

export function StatusBadge({ status }: { status: FaqStatus }) {
  const { t } = useTranslation("admin");
  return <span className={`status-badge status-${status}`}>{t(`status.${status}`)}</span>;
}
