// The widget's endpoints (public key + widget token), and their errors in a person's words.

import { state } from './state.js';
import { t } from './text.js';

export function linkIntentPath(rest = '') {
  return '/v1/widget/link_intents/' + encodeURIComponent(state.config.widgetToken) + rest;
}

export function refreshIntentPath(rest = '') {
  return '/v1/widget/refresh_intents/' + encodeURIComponent(state.config.widgetToken) + rest;
}

/**
 * Calls this server; resolves to the JSON answer, or rejects with `{api: error}` (the Fintoc
 * error object, or one made up for a non-JSON answer) or `{network: true}`.
 */
export function api(method, path, body) {
  const init = {
    method,
    headers: { Authorization: state.config.publicKey, Accept: 'application/json' },
    cache: 'no-store',
    credentials: 'omit',
  };
  if (body) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  return fetch(path, init).then((response) => {
    return response.json().catch(() => null).then((json) => {
      if (response.ok) return json;
      const error = json && json.error ? json.error
        : { code: 'http_' + response.status, message: 'The server answered ' + response.status + '.' };
      throw { api: error };
    });
  }, () => {
    throw { network: true };
  });
}

function left(n) {
  return typeof n === 'number' ? t('attemptsLeft', n) : '';
}

/**
 * Errors a person can act on, in their words and language, told from the error's `code` (the
 * server's `message` is for developers, in English: never shown).
 */
export function explain(err) {
  if (err.network) return t('network');
  const e = err.api || {};
  switch (e.code) {
    case 'institution_credentials_invalid':
      return t('credentialsInvalid') + left(e.login_attempts_left);
    case 'locked_credentials':
      return t('credentialsLocked') + left(e.login_attempts_left);
    case 'unavailable_institution':
      return t('bankUnavailable');
    case 'support_required':
      return t('supportRequired');
    case 'invalid_mfa_code':
      return e.attempts_left === 0 ? t('codeWrongNoAttempts') : t('codeWrong') + left(e.attempts_left);
    default:
      return t('tryAgain');
  }
}

/** Errors after which this widget cannot go on (the person must close it): their texts' keys. */
export const FATAL = {
  invalid_widget_token: ['cannotOpenTitle', 'badTokenText'],
  invalid_api_key: ['cannotOpenTitle', 'badKeyText'],
  link_intent_expired: ['expiredTitle', 'expiredText'],
  link_intent_finished: ['finishedTitle', 'finishedText'],
  link_intent_failed: ['tooManyLoginsTitle', 'tooManyLoginsText'],
  refresh_intent_finished: ['requestOverTitle', 'requestOverText'],
  mfa_expired: ['codeExpiredTitle', 'codeExpiredText'],
};
