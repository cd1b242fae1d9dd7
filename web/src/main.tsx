import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { createBrowserRouter, RouterProvider } from "react-router-dom";
import { App } from "./App";
import { AuthProvider } from "./auth/AuthProvider";
import "./i18n";
import "./styles.css";
import { applyTheme } from "./theme";

applyTheme();

const queryClient = new QueryClient({
  defaultOptions: {
    // 4xx answers will not change on a retry; network failures and 5xx may.
    queries: { retry: (count, error) => count < 2 && !(error as { error?: string } | null)?.error, staleTime: 15_000 },
  },
});

// A data router (one catch-all route; <App> keeps its own <Routes>): it is what lets a form with
// unsaved edits hold an in-app navigation (useBlocker, admin/unsaved).
const router = createBrowserRouter([
  {
    path: "*",
    element: (
      <AuthProvider>
        <App />
      </AuthProvider>
    ),
  },
]);

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <RouterProvider router={router} />
    </QueryClientProvider>
  </StrictMode>,
);
