// The admin panel's screens. Adding a screen is adding one entry here and its page.
import { lazy, type ComponentType, type LazyExoticComponent } from "react";
import type { User } from "../auth/AuthProvider";

export interface AdminScreen {
  /** Path under /admin (the first screen the user may see is the panel's start page). */
  path: string;
  /** i18n key in the "admin" namespace for the menu entry. */
  label: string;
  /** Who sees it: the menu and the routes leave out what a role cannot use. */
  roles: User["role"][];
  page: LazyExoticComponent<ComponentType>;
}

const STAFF: User["role"][] = ["admin", "moderator"];

export const ADMIN_SCREENS: AdminScreen[] = [
  { path: "faqs", label: "menu.faqs", roles: STAFF, page: lazy(() => import("./pages/FaqsPage")) },
  { path: "categories", label: "menu.categories", roles: STAFF, page: lazy(() => import("./pages/CategoriesPage")) },
  { path: "import", label: "menu.import", roles: STAFF, page: lazy(() => import("./pages/ImportExportPage")) },
  { path: "unanswered", label: "menu.unanswered", roles: STAFF, page: lazy(() => import("./pages/UnansweredPage")) },
  // Staff who may edit FAQs review the phrasings customers' helpful answers suggest.
  { path: "phrasings", label: "menu.phrasings", roles: STAFF, page: lazy(() => import("./pages/PhrasingsPage")) },
  // Search synonyms: staff who edit the knowledge base manage them (faqs/synonyms.py).
  { path: "synonyms", label: "menu.synonyms", roles: STAFF, page: lazy(() => import("./pages/SynonymsPage")) },
  { path: "moderation", label: "menu.moderation", roles: STAFF, page: lazy(() => import("./pages/ModerationPage")) },
  // Reading a thumbs-down conversation from it is for administrators (the API refuses moderators).
  { path: "analytics", label: "menu.analytics", roles: STAFF, page: lazy(() => import("./pages/AnalyticsPage")) },
  // Human handoff: staff (moderators and admins) are the agents who answer handed-over conversations.
  { path: "inbox", label: "menu.inbox", roles: STAFF, page: lazy(() => import("./pages/InboxPage")) },
  // Moderators may list users but only admins may change them: the screen is for admins.
  { path: "users", label: "menu.users", roles: ["admin"], page: lazy(() => import("./pages/UsersPage")) },
  // The API refuses the audit log to moderators too.
  { path: "audit", label: "menu.audit", roles: ["admin"], page: lazy(() => import("./pages/AuditPage")) },
  { path: "retention", label: "menu.retention", roles: ["admin"], page: lazy(() => import("./pages/RetentionPage")) },
  // Mails kept because no mail server is configured: reset links, so admins only.
  { path: "outbox", label: "menu.outbox", roles: ["admin"], page: lazy(() => import("./pages/OutboxPage")) },
  // The jobs API is for administrators only.
  { path: "jobs", label: "menu.jobs", roles: ["admin"], page: lazy(() => import("./pages/JobsPage")) },
  // Every user's API keys, with revoke: the API is for administrators only.
  { path: "api-keys", label: "menu.apiKeys", roles: ["admin"], page: lazy(() => import("./pages/ApiKeysPage")) },
];
