// The last screen when all went well; it also tells the host (onSuccess).

import { $, setStatus, show } from './dom.js';
import { emit, send } from './host.js';
import { state } from './state.js';
import { t } from './text.js';

/** A link intent succeeded: the bank, the holder and the accounts (numbers masked). */
export function showLinkCreated(view) {
  state.succeeded = true;
  emit('link_created');
  $('done-title').textContent = t('linkedTitle');
  $('done-text').textContent = t('linkedText', view.link.holder_name, view.link.institution.name);
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
  setStatus(t('linkedStatus'));
  show('done', 'done-title');
  send('success', {
    payload: {
      exchangeToken: view.exchange_token,
      linkIntentId: view.id,
      link: {
        id: view.link.id,
        institution: view.link.institution,
        holderName: view.link.holder_name,
        accounts: view.link.accounts,
      },
    },
  });
}

/** A refresh whose second factor the widget answered ended well. */
export function showRefreshDone(view, bank) {
  state.succeeded = true;
  $('done-title').textContent = t('refreshedTitle');
  $('done-text').textContent = t('refreshedText', bank);
  $('accounts').replaceChildren();
  setStatus(t('refreshedStatus'));
  show('done', 'done-title');
  send('success', { payload: { refreshIntentId: view.id, status: view.status } });
}
