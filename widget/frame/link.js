// Connecting a bank (product 'movements', a link intent's li_… token): choose a bank, log in,
// answer a second factor if the bank asks, then onSuccess with the exchange token. An intent
// that reconnects a link (`reconnect` in its view) skips the picker: the link's bank and
// username are given, and only the new password is asked.

import { FATAL, api, linkIntentPath } from './api.js';
import { $, setBusy, setError, setStatus } from './dom.js';
import { showCredentials } from './credentials.js';
import { showLinkCreated } from './done.js';
import { fail, fatal } from './failed.js';
import { showInstitutions } from './institutions.js';
import { answerRefused, askSecondFactor } from './second-factor.js';
import { state } from './state.js';
import { t } from './text.js';

export function startLink() {
  api('GET', linkIntentPath()).then((view) => {
    state.config.country = view.country;
    state.config.holderType = view.holder_type;
    if (view.reconnect) {
      state.reconnect = { username: view.reconnect.username };
      state.chosen = view.reconnect.institution;
      $('title').textContent = t('reconnectTitle');
    }
    // Reopened while the bank waits for a second factor: go straight to it.
    if (view.mfa) {
      state.chosen = view.mfa.institution;
      askMfa(view.mfa);
    } else if (state.reconnect) {
      logIn();
    } else {
      chooseBank();
    }
  }, fatal);
}

function chooseBank() {
  showInstitutions((institution) => {
    state.chosen = institution;
    logIn();
  });
}

function logIn() {
  showCredentials({ answered, back: chooseBank });
}

/** The bank's answer to credentials or to a second factor. */
function answered(view) {
  setBusy(false);
  setError('');
  if (view.status === 'succeeded') return showLinkCreated(view);
  if (view.mfa) return askMfa(view.mfa);
  fail(t('somethingWrong'), t('loginUnfinished'),
    { code: 'login_unfinished', message: 'The bank did not finish the login.' });
  return undefined;
}

function askMfa(mfa) {
  setError('');
  setStatus('');
  askSecondFactor(mfa.method, mfa.hint, mfa.institution.name, answerMfa);
}

function answerMfa(body) {
  setBusy(true);
  setStatus(t('checking'));
  api('POST', linkIntentPath('/mfa'), body).then(answered, (err) => {
    setBusy(false);
    setStatus('');
    const e = err.api || {};
    if (e.code === 'invalid_mfa_code' && e.attempts_left === 0 ||
      e.code === 'mfa_expired' || e.code === 'mfa_not_requested') {
      // The bank's challenge is gone: log in again.
      logIn();
      return setError(t(e.code === 'invalid_mfa_code' ? 'codeWrongLogInAgain' : 'codeExpiredLogInAgain'),
        'password');
    }
    if (FATAL[e.code]) return fatal(err);
    answerRefused(err);
    return undefined;
  });
}
