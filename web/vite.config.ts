// The dashboard is served by `dualguard serve` from web/dist at "/" (gateway.dashboard.dir), so the
// build is self-contained: relative to "/", no external URLs, no CDN fonts, no inline scripts.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    sourcemap: false,
    target: 'es2022',
    chunkSizeWarningLimit: 600,
  },
  server: {
    // `npm run dev` against a running gateway: DUALGUARD_URL=http://127.0.0.1:8080 npm run dev
    proxy: process.env.DUALGUARD_URL
      ? Object.fromEntries(['/api', '/admin'].map((p) => [p, { target: process.env.DUALGUARD_URL, changeOrigin: false }]))
      : undefined,
  },
});
