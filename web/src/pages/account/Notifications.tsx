import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { api, errorMessage, type Schemas } from "../../api/client";

type Choice = Schemas["NotificationChoice"];

/** Which notifications reach the user, per kind and channel; each box saves on its own. Push
 * reaches an installed app once it is subscribed; security mails always go out. */
export function NotificationSettings() {
  const { t } = useTranslation("account");
  const queryClient = useQueryClient();
  const settings = useQuery({
    queryKey: ["me", "notifications"],
    queryFn: async () => {
      const { data, error } = await api.GET("/api/v1/users/me/notifications");
      if (error || !data) throw error ?? new Error("No answer");
      return data;
    },
  });
  const save = useMutation({
    mutationFn: async (choice: Choice) => {
      const { data, error } = await api.PUT("/api/v1/users/me/notifications", { body: { settings: [choice] } });
      if (error || !data) throw error ?? new Error("No answer");
      return data;
    },
    onSuccess: (data) => queryClient.setQueryData(["me", "notifications"], data),
  });
  const rows = settings.data?.settings ?? [];
  const kinds = [...new Set(rows.map((r) => r.kind))];
  const channels = [...new Set(rows.map((r) => r.channel))];
  const find = (channel: string, kind: string) => rows.find((r) => r.channel === channel && r.kind === kind);

  return (
    <section className="account-card" aria-labelledby="account-notifications">
      <h2 id="account-notifications">{t("notifications.title")}</h2>
      {settings.isPending && <p role="status">{t("common:loading")}</p>}
      {settings.isError && <p role="alert" className="error">{errorMessage(settings.error)}</p>}
      {rows.length > 0 && (
        <table className="notification-table">
          <caption className="visually-hidden">{t("notifications.title")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("notifications.kind")}</th>
              {channels.map((c) => (
                <th scope="col" key={c}>{t(`notifications.channels.${c}`)}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {kinds.map((kind) => (
              <tr key={kind}>
                <th scope="row">{t(`notifications.kinds.${kind}`)}</th>
                {channels.map((channel) => {
                  const choice = find(channel, kind);
                  // While a box saves, it shows the choice; if saving fails, the stored one returns.
                  const pending = save.isPending && save.variables.channel === channel && save.variables.kind === kind;
                  const enabled = pending ? save.variables.enabled : choice?.enabled;
                  return (
                    <td key={channel}>
                      {choice && (
                        <input
                          type="checkbox"
                          aria-label={`${t(`notifications.kinds.${kind}`)}: ${t(`notifications.channels.${channel}`)}`}
                          checked={enabled}
                          disabled={save.isPending}
                          onChange={(e) => save.mutate({ ...choice, enabled: e.target.checked })}
                        />
                      )}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <small>{t("notifications.always")}</small>
      <p role="status">{save.isSuccess ? t("notifications.saved") : ""}</p>
      {save.isError && <p role="alert" className="error">{errorMessage(save.error)}</p>}
    </section>
  );
}
