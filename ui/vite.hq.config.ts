// The HQ console's build: the second entry point of the one UI codebase (hq.html → src/hq/),
// written to dist-hq/ and embedded into `sila-hq` at compile time (crates/sila-hq/build.rs).
// Every asset, fonts included, is bundled: the console fetches nothing from the internet.
import { defineConfig } from "vite";
import { resolve } from "node:path";

export default defineConfig({
  base: "./",
  build: {
    outDir: "dist-hq",
    emptyOutDir: true,
    target: "es2020",
    assetsInlineLimit: 0,
    rollupOptions: {
      input: { hq: resolve(import.meta.dirname, "hq.html") },
    },
  },
  server: { strictPort: true, port: 1421, proxy: { "/console/api": "http://127.0.0.1:8740" } },
});
