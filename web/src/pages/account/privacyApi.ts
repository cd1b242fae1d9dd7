import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, authFetch, type Schemas } from "../../api/client";

export type Consents = Schemas["Consents"];
export type ConsentUpdate = Schemas["ConsentUpdate"];
export type Export = Schemas["ExportRead"];

export const CONSENTS_KEY = ["privacy", "consents"] as const;

/** GET /privacy/consents: the consents given, and whether the policy changed since. */
export function useConsents(enabled = true) {
  return useQuery({
    queryKey: CONSENTS_KEY,
    enabled,
    queryFn: async () => {
      const { data, error } = await api.GET("/api/v1/privacy/consents");
      if (error || !data) throw error ?? new Error("No answer");
      return data;
    },
  });
}

/** PUT /privacy/consents from the web app; the answer replaces the cached consents and the
 * account (whose consent columns follow) is read again. */
export function useUpdateConsents() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (body: Omit<ConsentUpdate, "source">) => {
      const { data, error } = await api.PUT("/api/v1/privacy/consents", { body: { ...body, source: "web" } });
      if (error || !data) throw error ?? new Error("No answer");
      return data;
    },
    onSuccess: (consents) => {
      queryClient.setQueryData(CONSENTS_KEY, consents);
      void queryClient.invalidateQueries({ queryKey: ["me"] });
    },
  });
}

/** Fetch the finished archive with the access token and hand it to the browser as a download. */
export async function downloadExport(exp: Export): Promise<void> {
  if (!exp.download_url) throw new Error("not ready");
  const response = await authFetch(new Request(new URL(exp.download_url, globalThis.location.origin)));
  if (!response.ok) throw (await response.json().catch(() => null)) ?? new Error(String(response.status));
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = `helpline-data-${exp.id}.zip`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
