// How long the widget waits before asking the server again, after `attempt` answers in a row
// that changed nothing: 0.5 s, then twice as long each time, never more than 5 s.
//
// Short at first, because a refresh usually moves on within a second or two of the widget
// opening or of the person's answer; capped, so that a slow bank is still noticed within
// seconds. Pure, so that a test can check the schedule without a clock.

export const FIRST_DELAY_MS = 500;
export const MAX_DELAY_MS = 5000;

export function backoff(attempt) {
  return Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.max(0, attempt));
}
