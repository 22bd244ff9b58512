// The last screen when all went well. The person sees it before the host hears of it: onSuccess
// fires SUCCESS_SHOWN_MS after it appears, or at once when the person presses Done or closes
// the widget, whichever comes first; then the host may close the widget (most do in onSuccess).

import { $, setStatus, show } from './dom.js';
import { emit, send } from './host.js';
import { state } from './state.js';
import { t } from './text.js';

export const SUCCESS_SHOWN_MS = 1500;

let timer = null;

/** Shows the success screen, then tells the host (onSuccess) with `payload`. */
function succeed(title, text, status, payload) {
  state.succeeded = true;
  $('done-title').textContent = title;
  $('done-text').textContent = text;
  setStatus(status);
  show('done', 'done-title');
  state.pendingSuccess = payload;
  clearTimeout(timer);
  timer = setTimeout(flushSuccess, SUCCESS_SHOWN_MS);
}

/** Sends the success the screen is holding, if not sent yet (host.js calls it before closing). */
export function flushSuccess() {
  clearTimeout(timer);
  const payload = state.pendingSuccess;
  if (!payload) return;
  state.pendingSuccess = null;
  send('success', { payload });
}

/** A link intent succeeded (a link created or reconnected): the bank, the holder and the
 * accounts (numbers masked). */
export function showLinkCreated(view) {
  emit('link_created');
  const ul = $('accounts');
  ul.replaceChildren();
  view.link.accounts.forEach((account) => {
    const li = document.createElement('li');
    const name = document.createElement('span');
    name.textContent = account.name;
    const number = document.createElement('span');
    number.className = 'number';
    number.textContent = account.number;
    li.append(name, ' ', number);
    ul.appendChild(li);
  });
  const reconnected = Boolean(state.reconnect);
  succeed(t(reconnected ? 'reconnectedTitle' : 'linkedTitle'),
    t('linkedText', view.link.holder_name, view.link.institution.name),
    t(reconnected ? 'reconnectedStatus' : 'linkedStatus'), {
      exchangeToken: view.exchange_token,
      linkIntentId: view.id,
      link: {
        id: view.link.id,
        institution: view.link.institution,
        holderName: view.link.holder_name,
        accounts: view.link.accounts,
      },
    });
}

/** A refresh whose second factor the widget answered ended well. */
export function showRefreshDone(view, bank) {
  $('accounts').replaceChildren();
  succeed(t('refreshedTitle'), t('refreshedText', bank), t('refreshedStatus'),
    { refreshIntentId: view.id, status: view.status });
}
