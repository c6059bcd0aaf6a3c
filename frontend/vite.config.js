import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// The Flask server serves the built app and the API on one port; in `make dev` Vite serves the app with
// hot reload and forwards every API path (and the websocket) to that server.
const BACKEND = process.env.DIRECTOR_BACKEND_URL || 'http://127.0.0.1:8000'
const proxied = ['/agent', '/session', '/config', '/health']

export default defineConfig({
  plugins: [vue()],
  server: {
    host: '127.0.0.1',
    port: 5173,
    strictPort: true,
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
