// The typed API client: `schema.d.ts` is generated from Helpline's OpenAPI document
// (`npm run gen`, the same document and generator as the web app), so a changed endpoint breaks
// `tsc`, not the user.
import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./schema";
import { session } from "../auth/session";

export type Schemas = components["schemas"];
export type Api = Client<paths>;

const AUTH_PATHS = ["/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/register"];

function withAuth(request: Request): Request {
  const token = session.get()?.access_token;
  if (token && !request.headers.has("Authorization")) request.headers.set("Authorization", `Bearer ${token}`);
  return request;
}

/** fetch with the access token; on a 401 it refreshes the session once and repeats the request. */
export async function authFetch(input: Request): Promise<Response> {
  const again = input.clone();
  const response = await fetch(withAuth(input));
  if (response.status !== 401 || AUTH_PATHS.some((p) => input.url.endsWith(p))) return response;
  if (!(await session.refresh())) {
    await session.expire();
    return response;
  }
  again.headers.delete("Authorization");
  return fetch(withAuth(again));
}

let cached: { base: string; client: Api } | null = null;

/** The client for the server the user chose (made again when they choose another). */
export function api(): Api {
  const base = session.baseUrl();
  if (cached?.base !== base) cached = { base, client: createClient<paths>({ baseUrl: base, fetch: authFetch }) };
  return cached.client;
}

/** The API's error shape: {"error": "...", "detail": "...", "errors": [{"field", "message"}]}. */
export interface ApiError {
  error?: string;
  detail?: unknown;
  errors?: { field: string | null; message: string }[];
}

/** A message a person can read, from whatever the API (or the network) returned. */
export function errorMessage(error: unknown, fallback = "Something went wrong. Please try again."): string {
  if (error instanceof TypeError) return "Cannot reach the server. Check your connection and the server address.";
  const e = error as ApiError | undefined;
  if (Array.isArray(e?.errors) && e.errors.length > 0) {
    return e.errors
      .map((f) => (f.field ? `${f.field.replace(/_/g, " ")}: ${f.message}` : f.message))
      .join("; ");
  }
  if (typeof e?.detail === "string") return e.detail;
  return fallback;
}
