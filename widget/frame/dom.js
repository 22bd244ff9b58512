// The page's shared parts: which step shows, the live status line, the alert, busy buttons,
// and named timers (so a failure can stop everything that was about to happen).

export function $(id) {
  return document.getElementById(id);
}

const STEPS = ['loading', 'institutions', 'login', 'code', 'app', 'working', 'done', 'failed'];

/** Shows one step and moves the focus to `focusId` (its first field or its heading). */
export function show(step, focusId) {
  STEPS.forEach((name) => {
    $('step-' + name).hidden = name !== step;
  });
  const target = $(focusId);
  if (target) target.focus();
}

/** Progress, in the polite live region. */
export function setStatus(text) {
  $('status').textContent = text || '';
}

/** An error in the alert region; with `field`, that field is marked invalid and focused. */
export function setError(text, field) {
  const box = $('error');
  box.textContent = text || '';
  box.hidden = !text;
  ['username', 'password', 'code'].forEach((id) => {
    $(id).removeAttribute('aria-invalid');
  });
  if (text && field) {
    $(field).setAttribute('aria-invalid', 'true');
    $(field).focus();
  }
}

/** While a request is out, its buttons are disabled (no double submits). */
export function setBusy(busy) {
  $('dialog').setAttribute('aria-busy', busy ? 'true' : 'false');
  ['login-submit', 'code-submit', 'approved', 'back'].forEach((id) => {
    $(id).disabled = busy;
  });
}

const timers = {};

/** Runs `fn` in `ms`, replacing what was due under the same name. */
export function later(name, fn, ms) {
  clearTimeout(timers[name]);
  timers[name] = setTimeout(fn, ms);
}

/** Drops what was due under `name`, if anything. */
export function cancel(name) {
  clearTimeout(timers[name]);
  delete timers[name];
}

export function cancelTimers() {
  Object.keys(timers).forEach((name) => clearTimeout(timers[name]));
}
