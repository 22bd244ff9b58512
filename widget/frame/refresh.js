// The second factor of a refresh (product 'refresh_intent', a refresh intent's ri_… token):
// wait until the worker reached the bank, ask the person, send the answer, then follow the
// refresh until it ends. The waiting is polling (poller.js), since the widget has no push
// channel to this server.

import { FATAL, api, refreshIntentPath } from './api.js';
import { showRefreshDone } from './done.js';
import { $, setBusy, setError, setStatus, show } from './dom.js';
import { fail, fatal } from './failed.js';
import { poller } from './poller.js';
import { answerRefused, askSecondFactor } from './second-factor.js';
import { state } from './state.js';
import { t } from './text.js';

let polling = null;
let asked = false;
let answered = false;
let bank = null;

export function startRefresh() {
  bank = t('yourBank');
  polling = poller(poll);
  polling.start();
}

function poll() {
  // A widget that ended (failed or done) asks nothing more, even when shown again.
  if (state.failure || state.succeeded) return;
  api('GET', refreshIntentPath()).then((view) => {
    bank = view.institution_name || bank;
    if (view.status !== 'created') return ended(view);
    if (view.mfa_status === 'awaiting_answer' && !answered) {
      if (!asked) {
        asked = true;
        askSecondFactor(view.mfa_method, null, bank, answer);
      }
      // Nothing changes until the person answers: no polling meanwhile.
      return undefined;
    }
    if (view.mfa_status === 'answered') {
      working(t('updatingTitle'), t('updatingText', bank));
    } else {
      working(t('connectingTitle'), t('waitingFor', bank));
    }
    polling.again();
    return undefined;
  }, fatal);
}

function working(title, text) {
  $('working-title').textContent = title;
  $('working-text').textContent = text;
  setStatus(text);
  if ($('step-working').hidden) show('working', 'working-title');
}

function answer(body) {
  setBusy(true);
  setStatus(t('checking'));
  api('POST', refreshIntentPath('/mfa'), body).then(() => {
    setBusy(false);
    answered = true;
    setError('');
    // The refresh goes on now: follow it closely again.
    polling.start();
  }, (err) => {
    setBusy(false);
    setStatus('');
    const e = err.api || {};
    if (e.code === 'mfa_not_requested_yet') return polling.again();
    if (e.code === 'invalid_mfa_code' && e.attempts_left === 0) {
      return fail(t('tooManyCodesTitle'), t('tooManyCodesText'), e);
    }
    if (FATAL[e.code]) return fatal(err);
    answerRefused(err);
    return undefined;
  });
}

function ended(view) {
  if (!answered) {
    return fail(t('requestOverTitle'), t('requestOverText'),
      { code: 'refresh_intent_finished', message: 'The refresh intent is ' + view.status + '.' });
  }
  if (view.status !== 'succeeded') {
    return fail(t('notUpdatedTitle'), t('notUpdatedText', bank),
      { code: 'refresh_intent_' + view.status, message: 'The refresh intent is ' + view.status + '.' });
  }
  return showRefreshDone(view, bank);
}
