// One Socket.IO connection to namespace /chat. The auth callback is read on every (re)connect so a
// token entered after a refusal is used by the next attempt.
import { io } from 'socket.io-client'
import { getToken } from './auth.js'

export function createChatSocket() {
  return io('/chat', {
    autoConnect: false,
    reconnection: true,
    reconnectionDelay: 500,
    reconnectionDelayMax: 4000,
    auth: (cb) => {
      const token = getToken()
      cb(token ? { token } : {})
    },
  })
}
