// The login form (movements): the chosen bank's username (RUT or RFC) and password. When a
// link is reconnected, its username is shown, read-only, and only the password is asked.

import { FATAL, api, explain, linkIntentPath } from './api.js';
import { $, setBusy, setError, setStatus, show } from './dom.js';
import { fatal } from './failed.js';
import { emit } from './host.js';
import { state } from './state.js';
import { t } from './text.js';

// What to do with the bank's answer, and on "Choose another bank" (given by link.js).
let handlers = { answered: () => {}, back: () => {} };

export function showCredentials(next) {
  handlers = next;
  setError('');
  setStatus('');
  const mx = state.config.country === 'mx';
  const business = state.config.holderType === 'business';
  $('login-bank').textContent = state.chosen.name;
  $('username-label').textContent = t('usernameLabel', mx ? 'RFC' : 'RUT', business);
  const example = mx ? (business ? 'SAN990401XY9' : 'SAND800101AB1')
    : (business ? '76.000.006-K' : '41614850-3');
  const reconnect = state.reconnect;
  // A username typed earlier stays (logging in again after a second factor failed).
  if (reconnect) $('username').value = reconnect.username;
  $('username').readOnly = Boolean(reconnect);
  $('back').hidden = Boolean(reconnect);
  if (reconnect) {
    $('username-help').textContent = t('reconnectHelp') +
      (state.mode === 'test' ? ' ' + t('testPassword', 'jonsnow') : '');
  } else {
    // A sandbox user whose data changes, so that a later refresh brings new movements.
    $('username-help').textContent = state.mode === 'test'
      ? t('testCredentials', example, 'jonsnow+changes') : '';
  }
  $('password').value = '';
  show('login', reconnect ? 'password' : 'username');
  emit('on_authentication_form');
}

function submit() {
  const username = $('username').value.trim();
  const password = $('password').value;
  if (!username) return setError(t('enterUsername', $('username-label').textContent), 'username');
  if (!password) return setError(t('enterPassword'), 'password');
  const chosen = state.chosen;
  setError('');
  setBusy(true);
  setStatus(t('connecting', chosen.name));
  emit('creating_link');
  api('POST', linkIntentPath('/credentials'),
    { institution_id: chosen.id, username, password })
    .then(handlers.answered, (err) => {
      setBusy(false);
      setStatus('');
      $('password').value = '';
      const code = err.api && err.api.code;
      if (FATAL[code]) return fatal(err);
      // A locked account is about the username; anything else, most likely the password.
      setError(explain(err), code === 'locked_credentials' ? 'username' : 'password');
      return undefined;
    });
  return undefined;
}

$('step-login').addEventListener('submit', (event) => {
  event.preventDefault();
  submit();
});
$('back').addEventListener('click', () => handlers.back());
