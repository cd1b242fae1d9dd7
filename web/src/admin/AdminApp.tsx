import { Suspense } from "react";
import { useTranslation } from "react-i18next";
import { Navigate, NavLink, Route, Routes } from "react-router-dom";
import { useScrollEdges } from "./useScrollEdges";
import { useAuth } from "../auth/AuthProvider";
import { ADMIN_SCREENS } from "./routes";
import "./admin.css";

export default function AdminApp() {
  const { t } = useTranslation(["admin", "common"]);
  const { user } = useAuth();
  const screens = ADMIN_SCREENS.filter((s) => user && s.roles.includes(user.role));
  const start = screens[0] ? `/admin/${screens[0].path}` : "/";
  // On a phone the menu is one row that scrolls sideways: fades on the edges with more behind them.
  const { ref, edges } = useScrollEdges<HTMLUListElement>();
  return (
    <div className="admin">
      <nav aria-label={t("menu.title")} className={`admin-menu${edges.start ? " more-start" : ""}${edges.end ? " more-end" : ""}`}>
        {edges.end && (
          <span className="admin-menu-hint" aria-hidden="true" title={t("menu.scrollHint")}>
            ›
          </span>
        )}
        <ul ref={ref}>
          {screens.map((s) => (
            <li key={s.path}>
              <NavLink to={`/admin/${s.path}`}>{t(s.label)}</NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <div className="admin-content">
        <Suspense fallback={<p role="status">{t("common:loading")}</p>}>
          <Routes>
            <Route index element={<Navigate to={start} replace />} />
            {screens.map((s) => (
              <Route key={s.path} path={`${s.path}/*`} element={<s.page />} />
            ))}
            {/* An unknown screen, or one this role may not use: the start page. */}
            <Route path="*" element={<Navigate to={start} replace />} />
          </Routes>
        </Suspense>
      </div>
    </div>
  );
}
