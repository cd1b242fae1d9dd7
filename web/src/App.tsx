import { lazy, Suspense } from "react";
import { useTranslation } from "react-i18next";
import { Link, Route, Routes } from "react-router-dom";
import { RequireAuth } from "./auth/AuthProvider";
import { Layout } from "./components/Layout";
import { ReconsentPrompt } from "./components/ReconsentPrompt";
import { LoginPage } from "./pages/LoginPage";
import { RegisterPage } from "./pages/RegisterPage";
import { PrivacyPage } from "./pages/PrivacyPage";
import { ForgotPasswordPage } from "./pages/ForgotPasswordPage";
import { ResetPasswordPage } from "./pages/ResetPasswordPage";
import { VerifyEmailPage } from "./pages/VerifyEmailPage";
import { Home } from "./pages/landing/LandingPage";

// Areas load on demand: a visitor of the help center does not download the admin panel.
const ChatPage = lazy(() => import("./pages/chat/ChatPage"));
const HelpCenter = lazy(() => import("./pages/help/HelpCenter"));
const AccountPage = lazy(() => import("./pages/account/AccountPage"));
const AdminApp = lazy(() => import("./admin/AdminApp"));

function NotFound() {
  const { t } = useTranslation();
  return (
    <section>
      <h1>{t("notFound")}</h1>
      <Link to="/">{t("backHome")}</Link>
    </section>
  );
}

export function App() {
  const { t } = useTranslation();
  return (
    <Layout>
      <Suspense fallback={<p role="status">{t("loading")}</p>}>
        <Routes>
          <Route path="/" element={<Home />} />
          <Route path="/login" element={<LoginPage />} />
          <Route path="/register" element={<RegisterPage />} />
          <Route path="/forgot-password" element={<ForgotPasswordPage />} />
          <Route path="/reset-password" element={<ResetPasswordPage />} />
          <Route path="/verify-email" element={<VerifyEmailPage />} />
          <Route path="/privacy" element={<PrivacyPage />} />
          <Route path="/chat/:conversationId?" element={<RequireAuth><ChatPage /></RequireAuth>} />
          <Route path="/help/*" element={<HelpCenter />} />
          <Route path="/account" element={<RequireAuth><AccountPage /></RequireAuth>} />
          <Route path="/admin/*" element={<RequireAuth roles={["admin", "moderator"]}><AdminApp /></RequireAuth>} />
          <Route path="*" element={<NotFound />} />
        </Routes>
      </Suspense>
      <ReconsentPrompt />
    </Layout>
  );
}
