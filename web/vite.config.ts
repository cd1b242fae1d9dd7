import react from "@vitejs/plugin-react";
import { VitePWA } from "vite-plugin-pwa";
import { defineConfig } from "vitest/config";

// The API server `make dev` proxies to (Helpline's own `helpline serve`).
const api = process.env.HELPLINE_API ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [
    react(),
    VitePWA({
      registerType: "autoUpdate",
      // The service worker caches the app shell only; API calls always go to the network.
      workbox: {
        // The push and notificationclick handlers (public/push-sw.js) join the generated worker.
        importScripts: ["push-sw.js"],
        globPatterns: ["**/*.{js,css,html,svg,png,webmanifest}"],
        globIgnores: ["widget.js"],
        navigateFallback: "/index.html",
        navigateFallbackDenylist: [/^\/api\//, /^\/ws\//, /^\/health/, /^\/metrics/, /^\/docs/, /^\/openapi\.json/, /^\/sitemap\.xml/],
      },
      manifest: {
        name: "Helpline",
        short_name: "Helpline",
        description: "Answers from our support knowledge base, any time.",
        start_url: "/",
        display: "standalone",
        background_color: "#ffffff",
        theme_color: "#1d4ed8",
        icons: [
          { src: "/icons/icon-192.png", sizes: "192x192", type: "image/png" },
          { src: "/icons/icon-512.png", sizes: "512x512", type: "image/png" },
          { src: "/icons/icon-512.png", sizes: "512x512", type: "image/png", purpose: "maskable" },
        ],
      },
    }),
  ],
  server: {
    proxy: {
      "/api": api,
      "/health": api,
      "/ws": { target: api.replace(/^http/, "ws"), ws: true },
    },
  },
  build: { outDir: "dist", emptyOutDir: true, sourcemap: true },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["./test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}", "test/**/*.test.{ts,tsx}"],
  },
});
