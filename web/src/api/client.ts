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

/** The API's error shape: {"error": "...", "detail": "...", "request_id": "..."}. */
export interface ApiError {
  error?: string;
  detail?: unknown;
  request_id?: string;
}

/** A message a person can read, from whatever the API (or the network) returned. */
export function errorMessage(error: unknown, fallback = "Something went wrong. Please try again."): string {
  if (error instanceof TypeError) return "Cannot reach the server. Check your connection and try again.";
  const e = error as ApiError | undefined;
  if (typeof e?.detail === "string") return e.detail;
  if (Array.isArray(e?.detail)) {
    return e.detail
      .map((d: { loc?: unknown[]; msg?: string }) => [d.loc?.slice(1).join("."), d.msg].filter(Boolean).join(": "))
      .join("; ");
  }
  return fallback;
}
