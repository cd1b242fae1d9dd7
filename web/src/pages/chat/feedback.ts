// Helpful / not-helpful on an answer. The API stores the verdict but does not return it with the
// history, so this device remembers the choice too, to show it again after a reload.
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "../../api/client";

const KEY = "helpline.feedback";

function readAll(): Record<string, boolean> {
  try {
    return JSON.parse(localStorage.getItem(KEY) ?? "{}") as Record<string, boolean>;
  } catch {
    return {};
  }
}

function remember(messageId: number, helpful: boolean): void {
  try {
    const all = readAll();
    all[messageId] = helpful;
    const keys = Object.keys(all);
    for (const k of keys.slice(0, Math.max(0, keys.length - 500))) delete all[k]; // keep it small
    localStorage.setItem(KEY, JSON.stringify(all));
  } catch {
    // not remembered on this device; the server has it
  }
}

export function useFeedback(messageId: number) {
  const [chosen, setChosen] = useState<boolean | undefined>(() => readAll()[messageId]);
  const mutation = useMutation({
    mutationFn: async (helpful: boolean) => {
      const { data, error } = await api.POST("/api/v1/messages/{message_id}/feedback", {
        params: { path: { message_id: messageId } },
        body: { helpful },
      });
      if (error || !data) throw error ?? new Error("empty response");
      return data;
    },
    onSuccess: (data) => {
      setChosen(data.helpful);
      remember(messageId, data.helpful);
    },
  });
  return { chosen, send: (helpful: boolean) => mutation.mutate(helpful), pending: mutation.isPending, failed: mutation.isError };
}
