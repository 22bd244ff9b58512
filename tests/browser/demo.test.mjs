// The demo page at /demo: a newcomer connects a sandbox bank through the widget, asks for a
// refresh, answers the second factor and sees the new movements; keys stay in the page. The
// demo opens the widget in its default language, Spanish.

import {
  MARKUP, MARKUP_LINK_TOKEN, apiOk, assert, browserTest, eventually, servers,
} from './harness.mjs';

const main = servers.main;

async function enterKeys(page, secret = main.sk, publicKey = main.pk) {
  await page.getByLabel('Secret key').fill(secret);
  await page.getByLabel('Public key').fill(publicKey);
  await page.getByRole('button', { name: 'Use these keys' }).click();
}

async function answerSms(frame) {
  const code = frame.getByLabel('Código SMS', { exact: true });
  await code.fill('123456');
  await code.press('Enter');
}

browserTest('the demo walks through connecting, refreshing with a code, and new movements', {}, async (page) => {
  await page.goto(`${main.url}/demo`);
  // Live keys are refused before any request.
  await enterKeys(page, 'sk_live_abc', 'pk_live_abc');
  await page.getByRole('alert').filter({ hasText: 'test keys only' }).waitFor();
  await enterKeys(page);
  await page.getByText('Keys accepted').waitFor();
  assert.equal(await page.getByLabel('Secret key').inputValue(), '', 'the key is not left in the form');
  await page.getByText('The events of the link you connect appear here.').waitFor();

  // 2. Connect through the widget (this bank asks for a code at login).
  await page.getByLabel('Country').selectOption('cl');
  await page.getByRole('button', { name: 'Connect a bank with the widget' }).click();
  let frame = page.frameLocator('iframe[data-refresco-frame]');
  await frame.getByRole('button', { name: 'Banco Sandbox Chile' }).click();
  await frame.getByLabel('RUT').fill('41614850-3');
  await frame.getByLabel('Contraseña').fill('jonsnow+mfa_sms+changes');
  await frame.getByRole('button', { name: 'Conectar' }).click();
  await answerSms(frame);
  // The person sees the widget's success screen before the demo closes it (in onSuccess).
  await frame.getByRole('heading', { name: 'Tu banco está conectado' }).waitFor();
  await page.getByText('Connected: Banco Sandbox Chile').waitFor();
  const linkId = (await page.locator('#link-status').textContent()).match(/\((link_[^)]+)\)/)[1];
  await page.getByText('The latest movements of each account.').waitFor();
  assert.ok(await page.locator('table.movements tr').count() > 0);

  // 3. Refresh: the bank wants a code again, in the widget.
  await page.getByRole('button', { name: 'Refresh the movements' }).click();
  frame = page.frameLocator('iframe[data-refresco-frame]');
  await answerSms(frame);
  const status = await eventually(async () => {
    const text = await page.locator('#refresh-status').textContent();
    return /The refresh (succeeded|failed|rejected)/.test(text) && text;
  }, 'the refresh to end');
  assert.match(status, /The refresh succeeded with [1-9]\d* new movement/);

  // The server's events are this link's only.
  const events = await eventually(async () => {
    const text = await page.locator('#events-status').textContent();
    return text.includes(`events of link ${linkId}, newest first`) && text;
  }, "the link's events");
  assert.ok(events);
  const text = await page.locator('#server-events').textContent();
  assert.ok(await page.locator('#server-events li').count() > 0);
  // Read after the page: every event it shows of this link is in `mine`.
  const mine = (await apiOk(main, 'GET', `/v1/events?per_page=100&link_id=${linkId}`)).map((e) => e.id);
  const all = await apiOk(main, 'GET', '/v1/events?per_page=100');
  const others = all.map((e) => e.id).filter((id) => !mine.includes(id));
  assert.ok(others.every((id) => !text.includes(id)), "no other link's event is listed");

  // 4. The new movements are marked.
  await page.getByText(/new movement\(s\) on this page/).waitFor();
  assert.ok(await page.locator('tr.new').count() > 0, 'new movements are shown');
  const widgetEvents = await page.locator('#widget-events').textContent();
  for (const name of ['opened', 'on_authentication_form', 'link_created', 'sms_authentication_required']) {
    assert.ok(widgetEvents.includes(name), `${name} in ${widgetEvents}`);
  }
  // The keys and the link token never appear on the page.
  const body = await page.locator('body').textContent();
  assert.ok(!body.includes(main.sk) && !body.includes(main.pk) && !/_token_[A-Za-z0-9]{8}/.test(body));
});

browserTest('the demo shows names as text and copes without GET /v1/events', {}, async (page) => {
  await page.route('**/v1/events?*', (route) => route.fulfill({
    status: 404, contentType: 'application/json',
    body: JSON.stringify({ error: { type: 'invalid_request_error', code: 'invalid_url', message: 'Unrecognized request URL.' } }),
  }));
  await page.goto(`${main.url}/demo`);
  await enterKeys(page);
  await page.getByText('Already have a link?').click();
  await page.getByLabel('Its link token').fill(MARKUP_LINK_TOKEN);
  await page.getByRole('button', { name: 'Use this link' }).click();
  await page.getByText('The latest movements of each account.').waitFor();
  await page.getByText('does not offer GET /v1/events').waitFor();
  const headings = await page.locator('#accounts h3').allTextContents();
  assert.ok(headings.length > 0 && headings.every((h) => h.startsWith(MARKUP)), headings.join('|'));
  const cells = await page.locator('#accounts td').allTextContents();
  assert.ok(cells.includes(MARKUP), 'descriptions as typed');
  assert.ok((await page.getByText(/Connected: <img src=x/).count()) === 1, 'the bank name as text');
  assert.equal(await page.locator('main img, main b').count(), 0, 'no markup became elements');
  assert.equal(await page.evaluate(() => window.__xss), undefined);
});
