// The bank's second factor, for both flows: a code (SMS or device token) or an approval in
// the bank's app. The flow that asks says what to do with the answer.

import { explain } from './api.js';
import { $, setError, setStatus, show } from './dom.js';
import { emit } from './host.js';
import { state } from './state.js';
import { maskedPhone, t } from './text.js';

let answer = () => {};

/**
 * Asks for `method` (sms, device or app); `onAnswer` gets {code} or {approved: true}. The
 * bank's `hint` is in the bank's language: only its masked phone number is shown.
 */
export function askSecondFactor(method, hint, bank, onAnswer) {
  answer = onAnswer;
  emit(method + '_authentication_required');
  const test = state.mode === 'test' ? t('testCode') : '';
  if (method === 'app') {
    $('app-prompt').textContent = t('appPrompt', bank);
    setStatus(t('appWaiting', bank));
    show('app', 'app-title');
    return;
  }
  const sms = method === 'sms';
  $('code-title').textContent = t(sms ? 'smsTitle' : 'tokenTitle');
  $('code-label').textContent = t(sms ? 'smsLabel' : 'tokenLabel');
  $('code-prompt').textContent = (sms ? t('smsPrompt', bank, maskedPhone(hint)) : t('tokenPrompt', bank)) + test;
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
  if (!code) return setError(t('enterCode'), 'code');
  answer({ code });
  return undefined;
});
$('approved').addEventListener('click', () => answer({ approved: true }));
