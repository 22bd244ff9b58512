// The screen that ends a widget that cannot go on; its error is what onExit reports.

import { FATAL, explain } from './api.js';
import { $, cancelTimers, setBusy, setError, setStatus, show } from './dom.js';
import { state } from './state.js';
import { t } from './text.js';

export function fail(title, text, error) {
  state.failure = error || { code: 'failed', message: text };
  // Nothing that was due (a search, a poll) may run behind this screen.
  cancelTimers();
  setBusy(false);
  setError('');
  setStatus('');
  $('failed-title').textContent = title;
  $('failed-text').textContent = text;
  show('failed', 'failed-title');
}

/** Ends the widget on an error of the API: a known end in its own words, else the message. */
export function fatal(err) {
  const known = err.api && FATAL[err.api.code];
  if (known) return fail(t(known[0]), t(known[1]), err.api);
  fail(t('somethingWrong'), explain(err), err.api || { code: 'network_error' });
  return undefined;
}
