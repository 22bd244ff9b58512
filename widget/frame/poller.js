// Asks the server again and again while the widget waits on it: at once, then after longer
// and longer pauses (backoff.js), and not at all while the page is hidden (another tab, a
// minimised window): nobody is looking, and the server has better things to do. When the page
// shows again, it asks at once and starts over from the shortest pause.

import { backoff } from './backoff.js';
import { later } from './dom.js';

/** `check()` asks once; it calls `again()` when the answer says to keep waiting. */
export function poller(check) {
  let attempt = 0;
  let paused = false;

  function run() {
    if (document.visibilityState === 'hidden') {
      paused = true;
      return;
    }
    check();
  }

  document.addEventListener('visibilitychange', () => {
    if (!paused || document.visibilityState === 'hidden') return;
    paused = false;
    attempt = 0;
    run();
  });

  return {
    /** Asks now (unless hidden), and backs off from the start afterwards. */
    start() {
      attempt = 0;
      run();
    },
    /** Asks again after the next pause of the schedule. */
    again() {
      // A named timer, so that the failure screen cancels it (dom.js).
      later('poll', run, backoff(attempt));
      attempt += 1;
    },
  };
}
