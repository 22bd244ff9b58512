// Talking to the page that opened us (through /widget/v1.js), by postMessage only.
//
// The iframe's URL carries a random channel id and the host's origin (never a key or token).
// We send only to that origin, and accept only messages from our parent window, from that
// origin, on that channel; see docs/widget.md#security.

import { state } from './state.js';

const params = new URLSearchParams(location.hash.slice(1));
const channel = params.get('channel') || '';
const hostOrigin = params.get('origin') || '';
const ancestors = location.ancestorOrigins;

// The origin the embed script claims must be our real parent's, where the browser says.
export const trusted = window.parent !== window && /^[0-9a-f]{32}$/.test(channel) &&
  /^https?:\/\/[^/]+$/.test(hostOrigin) &&
  (!ancestors || ancestors.length === 0 || ancestors[0] === hostOrigin);

export function send(type, extra) {
  if (!trusted) return;
  const message = { type: 'refresco:' + type, channel };
  Object.keys(extra || {}).forEach((k) => { message[k] = extra[k]; });
  window.parent.postMessage(message, hostOrigin);
}

// Steps reached before the first open() (the widget loads while hidden) are told after
// `opened`, in order, with the time they happened.
let opened = false;
const early = [];

/** Tells the host about a step (onEvent), now or once the widget is first opened. */
export function emit(name) {
  const event = { name, metadata: { timestamp: Date.now() } };
  if (opened) send('event', event);
  else early.push(event);
}

/** The host opened the widget: `opened`, then the steps it missed. */
export function announceOpen() {
  const first = !opened;
  opened = true;
  send('event', { name: 'opened', metadata: { timestamp: Date.now() } });
  if (first) early.splice(0).forEach((event) => send('event', event));
}

/** Asks the host to close the widget, saying how it ended (onExit unless it succeeded). */
export function close() {
  send('close', {
    payload: state.succeeded ? { reason: 'done' }
      : state.failure ? { reason: 'error', error: state.failure } : { reason: 'closed' },
  });
}

/** Calls `handle(data)` for each message from our parent, from its origin, on our channel. */
export function onHostMessage(handle) {
  window.addEventListener('message', (event) => {
    if (!trusted || event.source !== window.parent || event.origin !== hostOrigin) return;
    const data = event.data;
    if (!data || typeof data !== 'object' || data.channel !== channel) return;
    handle(data);
  });
}
