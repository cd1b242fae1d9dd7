import { defineConfig } from "vite";

// The embeddable widget: one self-contained script (no React), built next to the app as /widget.js.
export default defineConfig({
  build: {
    outDir: "dist",
    emptyOutDir: false,
    sourcemap: true,
    lib: { entry: "src/widget/main.ts", name: "HelplineWidget", formats: ["iife"], fileName: () => "widget.js" },
  },
});
