// One short line about what a turn's model calls used: "openai/gpt-4o · 1,234 tokens · $0.0031".

function formatCost(usd) {
  if (usd === 0) return '$0'
  if (usd < 0.0001) return '<$0.0001'
  // Small amounts keep two significant digits; larger ones are cents.
  return usd < 1 ? `$${Number(usd.toPrecision(2))}` : `$${usd.toFixed(2)}`
}

/** The label for a message's `usage`, or '' when the turn made no model call. */
export function usageLabel(usage) {
  if (!usage || !usage.llm_calls) return ''
  const tokens = (usage.input_tokens || 0) + (usage.output_tokens || 0)
  const parts = []
  if (usage.model) parts.push(usage.model)
  parts.push(`${tokens.toLocaleString('en-US')} tokens`)
  if (typeof usage.cost_usd === 'number') parts.push(formatCost(usage.cost_usd))
  return parts.join(' · ')
}

/** The tooltip: the split between input and output, and how many calls. */
export function usageDetail(usage) {
  if (!usage || !usage.llm_calls) return ''
  const calls = usage.llm_calls === 1 ? '1 model call' : `${usage.llm_calls} model calls`
  const cost = typeof usage.cost_usd === 'number' ? `, $${usage.cost_usd.toFixed(6)}` : ', price unknown for this model'
  return `${calls}: ${(usage.input_tokens || 0).toLocaleString('en-US')} in, ${(usage.output_tokens || 0).toLocaleString('en-US')} out${cost}`
}
