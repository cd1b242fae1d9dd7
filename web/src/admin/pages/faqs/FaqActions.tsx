import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useNavigate } from "react-router-dom";
import { api, errorMessage } from "../../../api/client";
import type { Faq, FaqStatus } from "../../api";
import { ConfirmDialog } from "../../../components/ConfirmDialog";
import { FAQS_KEY } from "./queries";

// The moves each status offers: draft → published → archived, and back to draft from either.
const NEXT: Record<FaqStatus, FaqStatus[]> = {
  draft: ["published"],
  published: ["archived", "draft"],
  archived: ["draft"],
};

interface Props {
  faq?: Faq;
  busy: boolean;
  canDelete: boolean;
  onStatus(status: FaqStatus): void;
}

/** Save, the status moves (each saves the form too) and, for admins, delete for good. */
export function FaqActions({ faq, busy, canDelete, onStatus }: Props) {
  const { t } = useTranslation("admin");
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const remove = useMutation({
    mutationFn: async (id: number) => {
      const { error } = await api.DELETE("/api/v1/faqs/{faq_id}", { params: { path: { faq_id: id }, query: { hard: true } } });
      if (error) throw error;
    },
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: FAQS_KEY });
      navigate("/admin/faqs", { replace: true });
    },
  });

  return (
    <div className="form-actions">
      <button type="submit" disabled={busy}>
        {faq ? t("editor.save") : t("editor.saveDraft")}
      </button>
      {faq ? (
        NEXT[faq.status].map((s) => (
          <button key={s} type="button" className="secondary" disabled={busy} onClick={() => onStatus(s)}>
            {t(`editor.to.${s}`)}
          </button>
        ))
      ) : (
        <button type="button" className="secondary" disabled={busy} onClick={() => onStatus("published")}>
          {t("editor.saveAndPublish")}
        </button>
      )}
      {faq && canDelete && (
        <>
          <button type="button" className="danger push-right" onClick={() => setConfirming(true)}>
            {t("common:delete")}
          </button>
          <ConfirmDialog
            open={confirming}
            title={t("editor.deleteTitle")}
            confirmLabel={t("editor.deleteConfirm")}
            busy={remove.isPending}
            error={remove.error ? errorMessage(remove.error) : null}
            onConfirm={() => remove.mutate(faq.id)}
            onCancel={() => {
              remove.reset();
              setConfirming(false);
            }}
          >
            <p>{t("editor.deleteBody", { question: faq.question })}</p>
          </ConfirmDialog>
        </>
      )}
    </div>
  );
}
