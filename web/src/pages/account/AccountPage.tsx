import { useEffect } from "react";
import { useTranslation } from "react-i18next";
import { useAuth } from "../../auth/AuthProvider";
import { ApiKeys } from "./ApiKeys";
import { ResendVerification } from "../../components/ResendVerification";
import { PasswordForm } from "./PasswordForm";
import { NotificationSettings } from "./Notifications";
import { LanguageForm } from "./Preferences";
import { ConsentSettings, DataExport, DeleteAccount } from "./Privacy";
import { ProfileForm } from "./ProfileForm";
import "./account.css";

/** /account (signed in): profile, interface language, password, and privacy: consents, a copy
 * of one's data, deleting the account. */
export default function AccountPage() {
  const { t } = useTranslation("account");
  const { user } = useAuth();
  useEffect(() => {
    const previous = document.title;
    document.title = `${t("title")} · ${t("common:appName")}`;
    return () => {
      document.title = previous;
    };
  }, [t]);
  if (!user) return null; // RequireAuth shows the way in
  return (
    <div className="account">
      <h1>{t("title")}</h1>
      {!user.is_guest && !user.email_verified && (
        <div className="notice account-unverified" role="status">
          <p>{t("auth:notVerified", { email: user.email })}</p>
          <ResendVerification email={user.email} />
        </div>
      )}
      <div className="account-grid">
        <ProfileForm key={user.id} user={user} />
        <LanguageForm user={user} />
        {!user.is_guest && <PasswordForm user={user} />}
        {!user.is_guest && <NotificationSettings />}
        {!user.is_guest && <ApiKeys user={user} />}
        {!user.is_guest && <ConsentSettings />}
        {!user.is_guest && <DataExport />}
        {!user.is_guest && <DeleteAccount />}
      </div>
    </div>
  );
}
