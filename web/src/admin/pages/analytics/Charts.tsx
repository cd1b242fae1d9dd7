import { useTranslation } from "react-i18next";
import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { Schemas } from "../../../api/client";

type Bucket = Schemas["DashboardBucket"];

const COLORS = { faq: "#2f7d32", model: "#1f5fbf", refused: "#b26a00", failed: "#b3261e", agent: "#00796b", messages: "#1f5fbf", users: "#6a1b9a" };

/** Usage over the period: messages and active users per bucket. */
export function UsageChart({ series }: { series: Bucket[] }) {
  const { t } = useTranslation("admin");
  return (
    <figure className="analytics-chart" aria-label={t("analytics.charts.usage")}>
      <figcaption>{t("analytics.charts.usage")}</figcaption>
      <ResponsiveContainer width="100%" height={240}>
        <LineChart data={series} margin={{ top: 8, right: 16, bottom: 8, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="bucket" />
          <YAxis allowDecimals={false} />
          <Tooltip />
          <Legend />
          <Line type="linear" dataKey="messages" name={t("analytics.figures.messages")} stroke={COLORS.messages} dot={false} isAnimationActive={false} />
          <Line type="linear" dataKey="active_users" name={t("analytics.figures.activeUsers")} stroke={COLORS.users} dot={false} isAnimationActive={false} />
        </LineChart>
      </ResponsiveContainer>
    </figure>
  );
}

/** Answers per bucket, stacked by where they came from. */
export function OriginChart({ series }: { series: Bucket[] }) {
  const { t } = useTranslation("admin");
  return (
    <figure className="analytics-chart" aria-label={t("analytics.charts.origins")}>
      <figcaption>{t("analytics.charts.origins")}</figcaption>
      <ResponsiveContainer width="100%" height={240}>
        <BarChart data={series} margin={{ top: 8, right: 16, bottom: 8, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="bucket" />
          <YAxis allowDecimals={false} />
          <Tooltip />
          <Legend />
          <Bar dataKey="answers_faq" stackId="o" name={t("analytics.figures.faq")} fill={COLORS.faq} isAnimationActive={false} />
          <Bar dataKey="answers_model" stackId="o" name={t("analytics.figures.model")} fill={COLORS.model} isAnimationActive={false} />
          <Bar dataKey="answers_refused" stackId="o" name={t("analytics.figures.refused")} fill={COLORS.refused} isAnimationActive={false} />
          <Bar dataKey="answers_failed" stackId="o" name={t("analytics.figures.failed")} fill={COLORS.failed} isAnimationActive={false} />
          <Bar dataKey="answers_agent" stackId="o" name={t("analytics.figures.agent")} fill={COLORS.agent} isAnimationActive={false} />
        </BarChart>
      </ResponsiveContainer>
    </figure>
  );
}
