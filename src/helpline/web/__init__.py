"""The built web app (web/dist): files, SPA fallback, and per-FAQ meta tags for search engines."""
