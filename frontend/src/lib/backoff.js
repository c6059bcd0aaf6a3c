// How long the server asked us to wait before sending again. A full disk on the server answers with
// `storage_full` and `retry_after` (seconds): retrying at once would only be refused again, so the UI
// holds its send buttons for that long instead of letting clicks (or a stuck key) hammer the server.

export const STORAGE_FULL = 'storage_full'
const MAX_WAIT_S = 300

function clamp(seconds) {
  const value = Number(seconds)
  if (!Number.isFinite(value) || value <= 0) return 0
  return Math.min(Math.ceil(value), MAX_WAIT_S)
}

/** Seconds to wait after an `error` event (`{code, message, retry_after}`), 0 when none. */
export function retryAfterOfError(event) {
  if (!event || event.code !== STORAGE_FULL) return 0
  return clamp(event.retry_after)
}

/** Seconds to wait after a final answer that could not be saved (its answer block says so). */
export function retryAfterOfAnswer(message) {
  if (!message || message.msg_type !== 'output' || message.status !== 'error') return 0
  const block = (message.content || []).find((b) => b && b.agent_name === 'assistant')
  if (block?.data?.error_type !== STORAGE_FULL) return 0
  return clamp(block.data.retry_after)
}

/** Seconds left until `until` (epoch ms), rounded up; 0 once passed. */
export function secondsLeft(until, now = Date.now()) {
  return until > now ? Math.ceil((until - now) / 1000) : 0
}
