// The bank's second factor, for both flows: a code (SMS or device token) or an approval in
// the bank's app. The flow that asks says what to do with the answer.

import { explain } from './api.js';
import { $, setError, setStatus, show } from './dom.js';
import { emit } from './host.js';
import { state } from './state.js';

let answer = () => {};

/** Asks for `method` (sms, device or app); `onAnswer` gets {code} or {approved: true}. */
export function askSecondFactor(method, hint, bank, onAnswer) {
  answer = onAnswer;
  emit(method + '_authentication_required');
  const test = state.mode === 'test' ? ' (Test mode: the code is 123456.)' : '';
  if (method === 'app') {
    $('app-prompt').textContent = 'Open ' + bank + "'s app on your phone and approve the login. " +
      'Then press "I approved it".';
    setStatus('Waiting for your approval in ' + bank + "'s app.");
    show('app', 'app-title');
    return;
  }
  const sms = method === 'sms';
  $('code-title').textContent = sms ? 'Enter the SMS code' : 'Enter your token code';
  $('code-label').textContent = sms ? 'SMS code' : 'Token code';
  $('code-prompt').textContent = (hint ? hint + '. ' : '') +
    (sms ? bank + ' sent you a code by SMS.' : 'Enter the code your ' + bank + ' token shows.') + test;
  $('code').value = '';
  setStatus('');
  show('code', 'code');
}

/** A refused answer the person can retry: clear the code and say why, at the field. */
export function answerRefused(err) {
  $('code').value = '';
  setError(explain(err), $('step-code').hidden ? null : 'code');
}

$('step-code').addEventListener('submit', (event) => {
  event.preventDefault();
  const code = $('code').value.trim();
  if (!code) return setError('Enter the code.', 'code');
  answer({ code });
  return undefined;
});
$('approved').addEventListener('click', () => answer({ approved: true }));
