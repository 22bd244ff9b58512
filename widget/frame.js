/*
 * The hosted widget (inside the iframe that /widget/v1.js opens): this module wires the dialog
 * and starts one of two flows, each in its own module under frame/, chosen by the product:
 *   - movements (link intent, li_…), frame/link.js: choose a bank (institutions.js), log in
 *     (credentials.js), answer a second factor if the bank asks (second-factor.js), then
 *     onSuccess with the exchange token (done.js);
 *   - refresh_intent (ri_…), frame/refresh.js: wait for the bank's challenge, answer it (SMS
 *     code, device code or approval in the bank's app), then follow the refresh to its end.
 * Shared: host.js (postMessage to the page that opened us), api.js (this server's endpoints),
 * dom.js (steps, status, errors, timers), failed.js (the screen that ends the widget), text.js
 * (every word shown, in Spanish or English: one language per session, from the host's options).
 *
 * Plain ES modules, served by this server as they are (no build step); the page's CSP allows
 * scripts from this origin only. Rules kept throughout: data from the server or the bank is only
 * ever put on the page as text (textContent), never as HTML; every step moves the focus to its
 * first field or heading; progress goes to a polite live region and errors to an alert region.
 */

import { $ } from './frame/dom.js';
import { flushSuccess } from './frame/done.js';
import { fail } from './frame/failed.js';
import { announceOpen, close, onHostMessage, send, trusted } from './frame/host.js';
import { startLink } from './frame/link.js';
import { startRefresh } from './frame/refresh.js';
import { state } from './frame/state.js';
import { localize, setLanguage, t } from './frame/text.js';

/** Closes the widget; a success the last screen was holding is told first (onSuccess). */
function finish() {
  flushSuccess();
  close();
}

$('close').addEventListener('click', finish);
$('done').addEventListener('click', finish);
$('failed-close').addEventListener('click', finish);

document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape') {
    event.preventDefault();
    finish();
    return;
  }
  if (event.key !== 'Tab') return;
  // Keep the keyboard inside the dialog.
  const focusable = Array.prototype.filter.call(
    $('dialog').querySelectorAll('button, input'),
    (el) => !el.disabled && el.offsetParent !== null && el.tabIndex >= 0);
  if (focusable.length === 0) return;
  const first = focusable[0];
  const last = focusable[focusable.length - 1];
  if (event.shiftKey && document.activeElement === first) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && document.activeElement === last) {
    event.preventDefault();
    first.focus();
  }
});

function text(value) {
  return typeof value === 'string' ? value : '';
}

/** The host's options arrived (once): start the flow of their product. */
function begin(received) {
  state.config = {
    publicKey: text(received.publicKey),
    widgetToken: text(received.widgetToken),
    product: text(received.product),
    holderType: text(received.holderType) || 'individual',
    country: text(received.country),
    language: setLanguage(text(received.language)),
  };
  localize(document);
  state.mode = state.config.publicKey.indexOf('pk_live_') === 0 ? 'live' : 'test';
  if (state.config.product === 'refresh_intent') {
    $('title').textContent = t('refreshTitle');
    startRefresh();
  } else {
    startLink();
  }
}

onHostMessage((data) => {
  if (data.type === 'refresco:init' && !state.config && data.config && typeof data.config === 'object') {
    begin(data.config);
  } else if (data.type === 'refresco:open') {
    announceOpen();
    const heading = document.querySelector('.step:not([hidden]) h2');
    // The first field the person fills (a reconnected link's username is read-only).
    const field = document.querySelector('.step:not([hidden]) input:not([readonly])');
    (field || heading || $('title')).focus();
  }
});

// The host sizes the frame to the dialog (v1.js): tell it the dialog's height as it changes.
new ResizeObserver(() => {
  send('resize', { height: $('dialog').getBoundingClientRect().height });
}).observe($('dialog'));

if (!trusted) {
  fail(t('notDirectTitle'), t('notDirectText'));
} else {
  send('ready');
}
