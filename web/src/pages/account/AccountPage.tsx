import { useEffect } from "react";
import { useTranslation } from "react-i18next";
import { useAuth } from "../../auth/AuthProvider";
import { PasswordForm } from "./PasswordForm";
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
      <div className="account-grid">
        <ProfileForm key={user.id} user={user} />
        <LanguageForm user={user} />
        {!user.is_guest && <PasswordForm user={user} />}
        {!user.is_guest && <ConsentSettings />}
        {!user.is_guest && <DataExport />}
        {!user.is_guest && <DeleteAccount />}
      </div>
    </div>
  );
}
