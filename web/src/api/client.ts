// The typed API client. `schema.d.ts` is generated from Helpline's OpenAPI document at build time
// (`npm run gen`), so a changed endpoint breaks `tsc`, not the user.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";
import { session } from "../auth/session";

export type Schemas = components["schemas"];

const AUTH_PATHS = ["/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/register", "/api/v1/auth/guest"];

function withAuth(request: Request): Request {
  const token = session.get()?.access_token;
  if (token && !request.headers.has("Authorization")) request.headers.set("Authorization", `Bearer ${token}`);
  return request;
}

/** fetch with the access token; on a 401 it refreshes the session once and repeats the request. */
export async function authFetch(input: Request): Promise<Response> {
  const again = input.clone();
  const response = await fetch(withAuth(input));
  if (response.status !== 401 || AUTH_PATHS.some((p) => new URL(input.url).pathname === p)) return response;
  if (!(await session.refresh())) {
    session.expire();
    return response;
  }
  again.headers.delete("Authorization");
  return fetch(withAuth(again));
}

export const api = createClient<paths>({ baseUrl: globalThis.location?.origin ?? "", fetch: authFetch });

/** One field's error in the API's 422 body: {"errors": [{"field": "password", "message": "..."}]}. */
export interface FieldError {
  /** Dotted path of the field ("phrasings.1"), or null for the request as a whole. */
  field: string | null;
  message: string;
  type?: string | null;
}

/** The API's error shape: {"error": "...", "detail": "...", "request_id": "...", "errors": [...]}
 * (src/helpline/core/errors.py; `errors` on validation errors). */
export interface ApiError {
  error?: string;
  detail?: unknown;
  request_id?: string;
  errors?: FieldError[];
}

/** The field errors of an API error: its own `errors` list; FastAPI's default `detail` list (a
 * proxy or an older server); or a 400's "field: message" detail. [] when it names no field. */
export function apiFieldErrors(error: unknown): FieldError[] {
  const e = error as ApiError | undefined;
  if (Array.isArray(e?.errors)) {
    return e.errors
      .filter((f): f is FieldError => typeof f?.message === "string")
      .map((f) => ({ field: f.field || null, message: f.message, type: f.type ?? null }));
  }
  if (Array.isArray(e?.detail)) {
    return (e.detail as { loc?: unknown[]; msg?: string; type?: string }[]).map((d) => ({
      field: d.loc?.slice(1).join(".") || null,
      message: (d.msg ?? "").replace(/^Value error, /, ""),
      type: d.type ?? null,
    }));
  }
  if (typeof e?.detail === "string") {
    // One rule about one field, as the API words a 400: "answer: write an answer before publishing".
    const match = /^([a-z_][a-z0-9_.]*): ([^;]+)$/s.exec(e.detail);
    if (match?.[1] && match[2]) return [{ field: match[1], message: match[2] }];
  }
  return [];
}

/** "Password: is too easy to guess": a field's message after its label (as the form shows it),
 * never the API's raw field name. */
export function withLabel(label: string, message: string): string {
  return `${label.charAt(0).toUpperCase()}${label.slice(1)}: ${message}`;
}

/** The first error of each field, by field name (dotted paths keep their first part). */
export function errorsByField(error: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of apiFieldErrors(error)) {
    const name = f.field?.split(".")[0];
    if (name && !(name in out)) out[name] = f.message;
  }
  return out;
}

/** A message a person can read, from whatever the API (or the network) returned. `labels` names
 * fields as the form shows them (translated); a field without one is written out ("first name"). */
export function errorMessage(
  error: unknown,
  fallback = "Something went wrong. Please try again.",
  labels: Record<string, string> = {},
): string {
  if (error instanceof TypeError) return "Cannot reach the server. Check your connection and try again.";
  const fields = apiFieldErrors(error);
  if (fields.length > 0 && (fields.some((f) => f.field) || typeof (error as ApiError).detail !== "string")) {
    return fields
      .map((f) => {
        if (!f.field) return f.message;
        const name = f.field.split(".")[0] ?? f.field;
        return withLabel(labels[name] ?? name.replace(/_/g, " "), f.message);
      })
      .join("; ");
  }
  const e = error as ApiError | undefined;
  if (typeof e?.detail === "string") return e.detail;
  return fallback;
}
