import { QueryState } from "../QueryState";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useNavigate } from "react-router-dom";
import { api, errorMessage, type Schemas } from "../../api/client";
import { FAQ_LANGUAGES } from "../api";
import { FAQS_KEY } from "./faqs/queries";

type Group = Schemas["UnansweredGroup"];

/** The questions the knowledge base had no answer for, grouped by meaning, biggest first; each
 * group becomes a draft FAQ in one click and opens in the editor. */
export default function UnansweredPage() {
  const { t, i18n } = useTranslation("admin");
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [language, setLanguage] = useState("");
  const groups = useQuery({
    queryKey: ["admin", "unanswered", language],
    queryFn: async () => {
      const { data, error } = await api.GET("/api/v1/faqs/unanswered", { params: { query: { language: language || undefined } } });
      if (error) throw error;
      return data;
    },
  });
  const draft = useMutation({
    mutationFn: async (group: Group) => {
      const { data, error } = await api.POST("/api/v1/faqs/unanswered/draft", { body: { ids: group.ids, language: group.language, answer: "" } });
      if (error) throw error;
      return data;
    },
    onSuccess: (faq) => {
      queryClient.setQueryData([...FAQS_KEY, "one", faq.id], faq);
      void queryClient.invalidateQueries({ queryKey: ["admin", "unanswered"] });
      void queryClient.invalidateQueries({ queryKey: [...FAQS_KEY, "list"] });
      navigate(`/admin/faqs/${faq.id}`, { state: { saved: true } });
    },
  });
  const date = (iso: string) => new Date(iso).toLocaleString(i18n.language, { dateStyle: "medium", timeStyle: "short" });

  return (
    <>
      <h1>{t("unanswered.title")}</h1>
      <p className="admin-muted">{t("unanswered.intro")}</p>
      <div className="admin-filters">
        <label>
          {t("faqs.language")}
          <select value={language} onChange={(e) => setLanguage(e.target.value)}>
            <option value="">{t("faqs.allLanguages")}</option>
            {FAQ_LANGUAGES.map((l) => (
              <option key={l} value={l}>
                {t(`languages.${l}`)}
              </option>
            ))}
          </select>
        </label>
      </div>
      {draft.isError && (
        <p className="error" role="alert">
          {errorMessage(draft.error, t("unanswered.draftFailed"))}
        </p>
      )}
      <QueryState query={groups} failed={t("unanswered.loadFailed")} empty={groups.data?.items.length === 0} emptyText={t("unanswered.empty")}>
        {(data) => (
          <>
            <p className="admin-muted">{t("unanswered.considered", { count: data.considered })}</p>
            <ul className="unanswered-list">
              {data.items.map((g) => (
                <li key={g.ids[0]} className="admin-panel">
                  <h2>{g.representative}</h2>
                  <p className="admin-muted">
                    {t("unanswered.asked", { count: g.count })} · {g.language} · {t("unanswered.lastSeen", { date: date(g.last_seen) })}
                  </p>
                  {g.examples.length > 1 && (
                    <details>
                      <summary>{t("unanswered.examples", { count: g.examples.length })}</summary>
                      <ul>
                        {g.examples.map((ex) => (
                          <li key={ex.id}>
                            “{ex.text}” <small>{date(ex.created_at)}</small>
                          </li>
                        ))}
                      </ul>
                    </details>
                  )}
                  <button type="button" disabled={draft.isPending} onClick={() => draft.mutate(g)}>
                    {t("unanswered.createFaq")}
                    <span className="visually-hidden">: {g.representative}</span>
                  </button>
                </li>
              ))}
            </ul>
          </>
        )}
      </QueryState>
    </>
  );
}
