// The admin panel's screens. Adding a screen is adding one entry here and its page.
import { lazy, type ComponentType, type LazyExoticComponent } from "react";
import type { User } from "../auth/AuthProvider";

export interface AdminScreen {
  /** Path under /admin ("" is the panel's start page). */
  path: string;
  /** i18n key in the "admin" namespace for the menu entry and the page title. */
  label: string;
  roles: User["role"][];
  page: LazyExoticComponent<ComponentType>;
}

export const ADMIN_SCREENS: AdminScreen[] = [
  { path: "faqs", label: "menu.faqs", roles: ["admin", "moderator"], page: lazy(() => import("./pages/FaqsPage")) },
];
