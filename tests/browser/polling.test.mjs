// How the refresh widget waits on the server: its pauses between polls grow (0.5 s doubling to
// 5 s), it stops polling while the page is hidden, and it polls at once when shown again.
//
// The end-to-end test runs the widget on Playwright's fake clock, paused: time moves only when
// the test says, so the schedule is checked to the millisecond without waiting for it.

import {
  apiOk, assert, browserTest, createMfaLink, createMfaRefresh, eventually, openHost, openWidget,
  servers, waitForLog, widgetFrame,
} from './harness.mjs';

const main = servers.main;

browserTest('the backoff schedule: 0.5 s doubling up to 5 s', {}, async (page) => {
  // The module as this server serves it, imported on its own origin.
  await page.goto(`${main.url}/widget`);
  const delays = await page.evaluate(async () => {
    const { backoff } = await import('/widget/frame/backoff.js');
    return [0, 1, 2, 3, 4, 5, 6, 20, 1000].map(backoff);
  });
  assert.deepEqual(delays, [500, 1000, 2000, 4000, 5000, 5000, 5000, 5000, 5000]);
});

/** Makes the widget's document hidden or visible, as switching tabs does. */
function setHidden(page, hidden) {
  return widgetFrame(page).evaluate((h) => {
    if (h) Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    else delete document.visibilityState;
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

browserTest('the refresh widget polls less and less often, and not while hidden', {}, async (page) => {
  const linkToken = await createMfaLink(main, 'jonsnow+mfa_sms');
  const [intent, widgetToken] = await createMfaRefresh(main, linkToken);

  // Until the test lets go, the bank "never" asks: every read of the intent says it is still
  // waiting, and names the bank after the read's number, so the page shows which read it
  // handled last (and so that its next timer is set).
  let reads = 0;
  const stillWaiting = `**/v1/widget/refresh_intents/${widgetToken}`;
  await page.route(stillWaiting, (route) => {
    if (route.request().method() !== 'GET') return route.fallback();
    reads += 1;
    return route.fulfill({
      contentType: 'application/json',
      body: JSON.stringify({
        id: intent.id, status: 'created', mfa_status: 'waiting_for_bank', mfa_method: 'sms',
        mfa_expires_at: null, mfa_attempts_left: 3, institution_name: `Bank #${reads}`,
      }),
    });
  });
  // When (on the page's clock) the widget asked for the intent.
  await page.addInitScript(() => {
    if (location.pathname !== '/widget') return;
    const realFetch = window.fetch;
    window.__polls = [];
    window.fetch = function (input, init) {
      if (/\/refresh_intents\/[^/]+$/.test(String(input))) window.__polls.push(Date.now());
      return realFetch.call(this, input, init);
    };
  });
  await page.clock.install();
  await openHost(page);
  await page.clock.pauseAt(await page.evaluate(() => Date.now() + 1000));

  const frame = await openWidget(page, {
    publicKey: main.pk, widgetToken, holderType: 'individual', product: 'refresh_intent', language: 'en',
  });
  const polls = () => widgetFrame(page).evaluate(() => window.__polls.slice());
  const handled = (n) => frame.locator('#working-text', { hasText: new RegExp(`Bank #${n}…$`) }).waitFor();

  // Each pause is exactly the schedule's: the read after it comes when the clock reaches it.
  const schedule = [500, 1000, 2000, 4000, 5000, 5000];
  for (const [i, delay] of schedule.entries()) {
    await handled(i + 1);
    await page.clock.runFor(delay - 1);
    assert.equal((await polls()).length, i + 1, `no read before ${delay} ms`);
    await page.clock.runFor(1);
    await eventually(async () => (await polls()).length === i + 2, `read ${i + 2}`);
  }
  const times = await polls();
  assert.deepEqual(times.slice(1).map((t, i) => t - times[i]), schedule);

  // Hidden: a minute goes by without a read.
  await handled(schedule.length + 1);
  await setHidden(page, true);
  await page.clock.runFor(60000);
  assert.equal((await polls()).length, schedule.length + 1, 'no read while hidden');

  // Shown again: a read at once (the clock does not move), then the schedule from the start.
  await setHidden(page, false);
  await eventually(async () => (await polls()).length === schedule.length + 2, 'a read when shown');
  await handled(schedule.length + 2);
  await page.clock.runFor(500);
  await eventually(async () => (await polls()).length === schedule.length + 3, 'a read 0.5 s later');

  // The real server again, on real time: the bank asks, the code goes in, the refresh ends.
  await page.unroute(stillWaiting);
  await page.clock.resume();
  const code = frame.getByLabel('SMS code', { exact: true });
  await code.fill('123456');
  await code.press('Enter');
  const [, success] = await waitForLog(page, 'success');
  assert.deepEqual(success, { refreshIntentId: intent.id, status: 'succeeded' });
  const done = await apiOk(main, 'GET', `/v1/refresh_intents/${intent.id}?link_token=${linkToken}`);
  assert.equal(done.status, 'succeeded');
});
