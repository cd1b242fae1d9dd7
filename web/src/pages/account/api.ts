import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, errorMessage, type Schemas } from "../../api/client";

export type UserUpdate = Schemas["UserUpdate"];

/** PATCH /users/me; the returned account replaces the cached one, so the whole app follows. */
export function useUpdateMe() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (body: UserUpdate) => {
      const { data, error } = await api.PATCH("/api/v1/users/me", { body });
      if (error || !data) throw error ?? new Error("No answer");
      return data;
    },
    onSuccess: (user) => queryClient.setQueryData(["me"], user),
  });
}

/** The API's message, with its field names replaced by the labels the user sees on the form
 * ("new_password: must be at least 8 characters long" -> "New password: must be ..."). */
export function formError(error: unknown, labels: Record<string, string>, fallback: string): string {
  return errorMessage(error, fallback, labels);
}
