// The provider examples, written once in the backend's providers.json (also shown in .env.sample and
// the README) and bundled here at build time, so the setup panel cannot drift from them.
import data from '../../../backend/director/llm/providers.json'

export function toSetupProvider(provider) {
  return {
    id: provider.id,
    label: provider.label,
    lines: Object.entries(provider.env).map(([name, value]) => `${name}=${value}`),
    note: provider.note || null,
  }
}

export const SETUP_PROVIDERS = data.providers.filter((p) => p.setup_panel).map(toSetupProvider)
