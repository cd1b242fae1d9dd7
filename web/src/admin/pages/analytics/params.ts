// The Analytics screen's filters, kept in the address (?from=&to=&granularity=&tz=&figure=&conversation=)
// so a view can be shared and the browser's back button steps through drill-downs.

export type Granularity = "day" | "week" | "month";
export const GRANULARITIES: Granularity[] = ["day", "week", "month"];
export const FIGURES = ["thumbs_down", "helpful", "faq", "model", "refused", "failed", "agent", "flagged"] as const;
export type Figure = (typeof FIGURES)[number];

export interface Filters {
  from: string;
  to: string;
  granularity: Granularity;
  tz: string;
}

/** YYYY-MM-DD of a date in the browser's own calendar. */
export function isoDay(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export function browserZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

/** The filters in ``params``, with the defaults the API uses: the last 30 days, by day. */
export function readFilters(params: URLSearchParams, today: Date = new Date()): Filters {
  const to = params.get("to") || isoDay(today);
  const start = new Date(today);
  start.setDate(start.getDate() - 29);
  const from = params.get("from") || isoDay(start);
  const g = params.get("granularity");
  const granularity = GRANULARITIES.find((x) => x === g) ?? "day";
  return { from, to, granularity, tz: params.get("tz") || browserZone() };
}

export function readFigure(params: URLSearchParams): Figure | null {
  return FIGURES.find((f) => f === params.get("figure")) ?? null;
}
