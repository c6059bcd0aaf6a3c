// The model picker's view of GET /model: search, grouping, and how a model's figures read.

const LAST_PICKED_KEY = 'director.lastModel'
export const REASONING_EFFORTS = ['off', 'minimal', 'low', 'medium', 'high']

/** The models whose id contains every word of `query` (case-insensitive). */
export function searchModels(models, query) {
  const words = (query || '').toLowerCase().split(/\s+/).filter(Boolean)
  if (!words.length) return models
  return models.filter((m) => words.every((w) => m.id.toLowerCase().includes(w)))
}

/**
 * Groups for display: this server's curated models first (in the server's order), then every other
 * model by provider. At most `limit` models in all, so a broad search stays quick to render;
 * `hidden` says how many were left out.
 */
export function groupModels(models, limit = 150) {
  const groups = []
  const curated = models.filter((m) => m.curated)
  if (curated.length) groups.push({ label: 'On this server', models: curated.slice(0, limit) })
  let shown = Math.min(curated.length, limit)
  const byProvider = new Map()
  for (const model of models) {
    if (model.curated || shown >= limit) continue
    if (!byProvider.has(model.provider)) byProvider.set(model.provider, [])
    byProvider.get(model.provider).push(model)
    shown += 1
  }
  for (const [provider, list] of byProvider) groups.push({ label: provider, models: list })
  return { groups, hidden: models.length - shown }
}

/** 128000 -> "128k", 1048576 -> "1M" context tokens. */
export function formatContext(tokens) {
  if (!tokens) return null
  if (tokens >= 1_000_000) return `${+(tokens / 1_000_000).toFixed(1)}M`
  if (tokens >= 1000) return `${Math.round(tokens / 1000)}k`
  return String(tokens)
}

function dollars(value) {
  if (value === null || value === undefined) return null
  return value >= 1 || value === 0 ? `$${value.toFixed(2)}` : `$${+value.toPrecision(2)}`
}

/** "$2.50 in / $10.00 out per 1M tokens", or null when unknown. */
export function formatPrice(model) {
  const input = dollars(model.input_cost_per_mtok)
  const output = dollars(model.output_cost_per_mtok)
  if (!input && !output) return null
  return `${input ?? '?'} in / ${output ?? '?'} out per 1M`
}

/** What the credentials marker says, for its tooltip and for screen readers. */
export function credentialsText(model) {
  if (model.credentials === 'missing') {
    return model.missing_env?.length
      ? `Credentials missing: set ${model.missing_env.join(', ')}`
      : 'Credentials missing: this provider needs a login the server cannot do'
  }
  if (model.credentials === 'not_needed') return 'No credentials needed'
  return 'Credentials set'
}

/** The model last picked in this browser (new chats start on it). */
export function lastPickedModel(storage = globalThis.localStorage) {
  try {
    return storage?.getItem(LAST_PICKED_KEY) || null
  } catch {
    return null // storage disabled (private mode): the server's default it is
  }
}

export function rememberPickedModel(model, storage = globalThis.localStorage) {
  try {
    if (model) storage?.setItem(LAST_PICKED_KEY, model)
    else storage?.removeItem(LAST_PICKED_KEY)
  } catch {
    // not remembered: nothing else depends on it
  }
}
