// Helpful / not-helpful on an answer. The history carries the user's verdict (MessageRead.feedback),
// so the choice shows again after a reload, on any device.
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "../../api/client";

export function useFeedback(messageId: number, initial?: boolean | null) {
  const [chosen, setChosen] = useState<boolean | undefined>(initial ?? undefined);
  const mutation = useMutation({
    mutationFn: async (helpful: boolean) => {
      const { data, error } = await api.POST("/api/v1/messages/{message_id}/feedback", {
        params: { path: { message_id: messageId } },
        body: { helpful },
      });
      if (error || !data) throw error ?? new Error("empty response");
      return data;
    },
    onSuccess: (data) => setChosen(data.helpful),
  });
  return {
    chosen,
    send: (helpful: boolean) => mutation.mutate(helpful),
    pending: mutation.isPending,
    failed: mutation.isError,
    /** After "Not helpful": the server offers a person. */
    offerHandoff: mutation.data?.offer_handoff === true,
  };
}
