// Cost figures for the chat header, the sidebar, the activity view, the budget bar and the Usage page.
// Every total comes from the server (summed by its database); this only formats and compares.

const REFUSALS = new Set(['budget_exceeded', 'unpriced_model'])
// The budget bar appears once this share of a budget is used.
export const BUDGET_WARN_AT = 0.8

export function formatUsd(usd) {
  if (typeof usd !== 'number' || !Number.isFinite(usd)) return '—'
  if (usd === 0) return '$0'
  if (usd < 0.0001) return '<$0.0001'
  return usd < 1 ? `$${Number(usd.toPrecision(2))}` : `$${usd.toFixed(2)}`
}

export function formatCount(n) {
  return (Number(n) || 0).toLocaleString('en-US')
}

/** "1,234 in · 56 out · $0.0031 · 6 calls" for a chat's totals, '' before its first model call. */
export function totalsLabel(totals) {
  if (!totals || !totals.llm_calls) return ''
  const calls = totals.llm_calls === 1 ? '1 model call' : `${formatCount(totals.llm_calls)} model calls`
  const parts = [`${formatCount(totals.input_tokens)} in`, `${formatCount(totals.output_tokens)} out`]
  if (totals.cached_tokens) parts.push(`${formatCount(totals.cached_tokens)} cached`)
  parts.push(formatUsd(totals.cost_usd), calls)
  return parts.join(' · ')
}

/** One model call of a turn, for the activity view. */
export function callLabel(call) {
  const who = call.agent || 'assistant'
  const parts = [who, call.model || 'unknown model']
  parts.push(`${formatCount(call.input_tokens)} in / ${formatCount(call.output_tokens)} out`)
  if (call.cached_tokens) parts.push(`${formatCount(call.cached_tokens)} cached`)
  parts.push(typeof call.cost_usd === 'number' ? formatUsd(call.cost_usd) : 'unpriced')
  if (typeof call.latency_ms === 'number') parts.push(`${Math.round(call.latency_ms).toLocaleString('en-US')} ms`)
  if (call.outcome && call.outcome !== 'success') parts.push(call.outcome)
  return parts.join(' · ')
}

/** The budget refusal of an answer ({error_type, budget?, spent_usd?, limit_usd?, setting, models?}) or null. */
export function refusalOf(message) {
  for (const block of message?.content || []) {
    const data = block?.agent_name === 'assistant' ? block.data : null
    if (data && REFUSALS.has(data.error_type)) return data
  }
  return null
}

/** A budget bar to show ({label, used, limit, share}) once BUDGET_WARN_AT of it is spent, else null. */
export function budgetBar(label, used, limit) {
  if (typeof limit !== 'number' || limit <= 0 || typeof used !== 'number') return null
  const share = used / limit
  return share >= BUDGET_WARN_AT ? { label, used, limit, share: Math.min(share, 1) } : null
}

/** Seconds since the epoch, `days` back from now (the Usage page's periods). */
export function periodStart(days, now = Date.now()) {
  return Math.floor(now / 1000) - days * 86400
}

/** Fill the days without calls, so the chart's x axis is the whole period. */
export function dailySeries(rows, days, now = Date.now()) {
  const byDay = new Map(rows.map((r) => [r.key, r]))
  const out = []
  for (let i = days - 1; i >= 0; i--) {
    const day = new Date(now - i * 86400000).toISOString().slice(0, 10)
    const row = byDay.get(day)
    out.push({ day, cost: row ? row.cost_usd : 0, tokens: row ? row.input_tokens + row.output_tokens : 0 })
  }
  return out
}
