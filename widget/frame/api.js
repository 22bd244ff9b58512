// The widget's endpoints (public key + widget token), and their errors in a person's words.

import { state } from './state.js';

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

function left(n, what) {
  if (typeof n !== 'number') return '';
  return ' ' + n + ' ' + what + (n === 1 ? '' : 's') + ' left.';
}

/** Errors a person can act on, in their words; anything else shows the server's message. */
export function explain(err) {
  if (err.network) return 'We could not reach the server. Check your connection and try again.';
  const e = err.api || {};
  switch (e.code) {
    case 'institution_credentials_invalid':
      return 'Your bank did not accept that username or password. Check them and try again.' +
        left(e.login_attempts_left, 'attempt');
    case 'locked_credentials':
      return 'Your bank has locked these credentials. Unlock them with your bank, then try again.' +
        left(e.login_attempts_left, 'attempt');
    case 'unavailable_institution':
      return 'Your bank is not answering right now. Please try again in a few minutes.';
    case 'support_required':
      return 'Your bank answered in an unexpected way. Try again later; if it keeps happening, contact support.';
    case 'invalid_mfa_code':
      return e.attempts_left === 0
        ? 'That code is not right, and no attempts are left.'
        : 'That code is not right. Check it and try again.' + left(e.attempts_left, 'attempt');
    default:
      return e.message || 'Something went wrong. Please try again.';
  }
}

/** Errors after which this widget cannot go on (the person must close it): title and text. */
export const FATAL = {
  invalid_widget_token: ['This widget could not be opened',
    'Its link is not valid for this site (wrong token or key). Close it and try again.'],
  invalid_api_key: ['This widget could not be opened',
    'It was given a key that is not a valid public key. Close it and try again.'],
  link_intent_expired: ['This request expired',
    'It was not finished in time. Close this window and start again.'],
  link_intent_finished: ['Already connected',
    'This connection was already completed; it cannot be used again. Close this window.'],
  link_intent_failed: ['Too many attempts',
    'Your bank refused too many logins. Close this window and start again later.'],
  refresh_intent_finished: ['This request is over',
    'It expired or was already answered. Close this window and ask for a new update.'],
  mfa_expired: ['The code expired',
    'It was not entered in time. Close this window and ask for a new update.'],
};
