import { fileURLToPath } from 'node:url'
import { defineConfig, searchForWorkspaceRoot } from 'vite'
import vue from '@vitejs/plugin-vue'

// The Flask server serves the built app and the API on one port; in `make dev` Vite serves the app with
// hot reload and forwards every API path (and the websocket) to that server.
const BACKEND = process.env.DIRECTOR_BACKEND_URL || 'http://127.0.0.1:8000'
const proxied = ['/agent', '/session', '/config', '/health']
// The setup panel's provider examples live with the backend (one file for .env.sample, the README and
// this app); the dev server may read that one file outside frontend/, nothing else there.
const PROVIDERS_JSON = fileURLToPath(new URL('../backend/director/llm/providers.json', import.meta.url))

export default defineConfig({
  plugins: [vue()],
  server: {
    host: '127.0.0.1',
    port: 5173,
    strictPort: true,
    fs: { allow: [searchForWorkspaceRoot(process.cwd()), PROVIDERS_JSON] },
    proxy: {
      ...Object.fromEntries(proxied.map((path) => [path, { target: BACKEND, changeOrigin: false }])),
      '/socket.io': { target: BACKEND, ws: true, changeOrigin: false },
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // One vendor chunk keeps the first paint to a few requests without tripping the size warning.
    chunkSizeWarningLimit: 800,
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/__tests__/**/*.test.js'],
  },
})
