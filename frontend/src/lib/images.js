// Images attached to a message: read from a paste, a drop or the file button as data: URLs, which is
// how they travel (Director's {"type": "image_url", "image_url": {"url"}} content parts) and are stored.
// The limits are the server's (backend/director/core/images.py): checked here so nothing is sent in vain.

export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp']
export const MAX_IMAGE_BYTES = 3 * 1024 * 1024
export const MAX_IMAGES = 4

/** Which files can be attached, and a sentence for each one that cannot. */
export function checkFiles(files, alreadyAttached = 0) {
  const accepted = []
  const problems = []
  for (const file of files) {
    if (!IMAGE_TYPES.includes(file.type)) problems.push(`${file.name || 'That file'} is not a PNG, JPEG, GIF or WebP image.`)
    else if (file.size > MAX_IMAGE_BYTES) problems.push(`${file.name || 'An image'} is larger than 3 MB.`)
    else if (alreadyAttached + accepted.length >= MAX_IMAGES) problems.push(`At most ${MAX_IMAGES} images per message.`)
    else accepted.push(file)
  }
  return { accepted, problems: [...new Set(problems)] }
}

export function readAsDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader()
    reader.onload = () => resolve(String(reader.result))
    reader.onerror = () => reject(reader.error)
    reader.readAsDataURL(file)
  })
}

/** The image files among a paste's or a drop's items. */
export function filesOf(transfer) {
  return Array.from(transfer?.files || []).filter((file) => file.type.startsWith('image/'))
}

/** The `content` of a `chat` payload: the text alone, or text and image parts. */
export function chatContent(text, images) {
  if (!images?.length) return text
  const parts = text ? [{ type: 'text', text }] : []
  return [...parts, ...images.map((url) => ({ type: 'image_url', image_url: { url } }))]
}

/** The data: URLs of a stored or echoed input message's images. */
export function imageUrlsOf(message) {
  return (message?.images || []).map((part) => part?.image_url?.url || part?.image_url).filter(Boolean)
}
