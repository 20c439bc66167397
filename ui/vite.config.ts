// One codebase, one entry point per app: the branch desktop app (index.html → src/branch/) now;
// the HQ console (src/hq/) is added as a second input later. Shared code lives in src/shared/.
import { defineConfig } from "vite";
import { resolve } from "node:path";

export default defineConfig({
  base: "./",
  // The desktop app is offline: every asset (fonts included) is bundled, nothing is fetched.
  build: {
    target: "safari15",
    assetsInlineLimit: 0,
    rollupOptions: {
      input: { branch: resolve(import.meta.dirname, "index.html") },
    },
  },
  server: { strictPort: true, port: 1420 },
  test: {
    environment: "happy-dom",
    include: ["src/**/*.test.{ts,tsx}"],
  },
} as any);
