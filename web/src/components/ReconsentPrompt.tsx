import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";
import { errorMessage } from "../api/client";
import { useAuth } from "../auth/AuthProvider";
import { useConsents, useUpdateConsents } from "../pages/account/privacyApi";
import { ConfirmDialog } from "./ConfirmDialog";

/** When the privacy policy has changed since the user consented to the processing of their
 * messages, ask for their consent under the new one. A user who withdrew it chose so: they are
 * not asked (the account page's switch gives it back). "Cancel" closes the prompt for this visit. */
export function ReconsentPrompt() {
  const { t } = useTranslation("account");
  const { user } = useAuth();
  const consents = useConsents(Boolean(user && !user.is_guest));
  const update = useUpdateConsents();
  const dismissed = sessionStorage.getItem("helpline.reconsent.dismissed") === consents.data?.policy_version;
  const data = consents.data;
  const open = Boolean(user && !user.is_guest && data?.needs_reconsent && data.data_processing && !dismissed);
  return (
    <ConfirmDialog
      open={open}
      title={t("reconsent.title")}
      confirmLabel={t("reconsent.accept")}
      tone="normal"
      busy={update.isPending}
      error={update.isError ? errorMessage(update.error, t("saveFailed")) : null}
      onConfirm={() => update.mutate({ data_processing: true })}
      onCancel={() => {
        if (consents.data) sessionStorage.setItem("helpline.reconsent.dismissed", consents.data.policy_version);
        update.reset();
        // Re-render: the dismissal is read from sessionStorage.
        void consents.refetch();
      }}
    >
      <p>
        {consents.data?.accepted_policy_version
          ? t("reconsent.changed", { version: consents.data.policy_version })
          : t("reconsent.missing")}
      </p>
      <p>
        <Link to="/privacy">{t("consents.privacyLink")}</Link>
      </p>
    </ConfirmDialog>
  );
}
