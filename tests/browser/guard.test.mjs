// What the widget refuses: a secret key, another organization's or mode's public key, used and
// expired tokens, messages from other windows and origins, and markup in names (shown as text).

import {
  LIVE_PK, MARKUP, MARKUP_REFRESH_LINK_TOKEN, OTHER_ORG_PK, api, apiOk, assert, browserTest,
  createLinkIntent, createMfaRefresh, createWidget, eventNames, eventually, log, openHost,
  openWidget, rogueUrl, servers, waitForLog, widgetFrame,
} from './harness.mjs';

const main = servers.main;

function options(intent, publicKey = main.pk) {
  return {
    publicKey, widgetToken: intent.widget_token, holderType: 'individual', product: 'movements', country: 'cl',
    language: 'en',
  };
}

/** Opens the widget with `opts` and returns the failure screen's title and text. */
async function failureShown(page, opts, server = main) {
  await openHost(page, server);
  const frame = await openWidget(page, opts);
  await frame.locator('#step-failed:not([hidden])').waitFor();
  return [await frame.locator('#failed-title').textContent(), await frame.locator('#failed-text').textContent(), frame];
}

browserTest('a secret key given to the widget is refused before anything is sent', {}, async (page) => {
  const intent = await createLinkIntent(main, 'cl');
  const sent = [];
  page.on('request', (request) => sent.push(JSON.stringify([request.url(), request.headers(), request.postData()])));
  await openHost(page);
  const error = await createWidget(page, options(intent, main.sk));
  assert.match(error, /secret key/);
  assert.equal(await page.locator('iframe[data-refresco-frame]').count(), 0, 'no widget was made');
  // Other malformed options are refused too.
  assert.match(await createWidget(page, { ...options(intent), publicKey: 'nope' }), /public key/);
  assert.match(await createWidget(page, { ...options(intent), widgetToken: 'ri_x_sec_y' }), /li_/);
  assert.match(await createWidget(page, { ...options(intent), product: 'payments' }), /product/);
  assert.ok(!sent.some((line) => line.includes(main.sk)), 'the secret key left the page');
});

browserTest('public keys of another organization or mode open nothing', {}, async (page) => {
  const intent = await createLinkIntent(main, 'cl');
  for (const key of [OTHER_ORG_PK, LIVE_PK]) {
    const [title, text, frame] = await failureShown(page, options(intent, key));
    assert.equal(title, 'This widget could not be opened');
    assert.match(text, /not valid/);
    await frame.getByRole('button', { name: 'Close' }).first().click();
    const [, exit] = await waitForLog(page, 'exit');
    assert.equal(exit.error.code, 'invalid_widget_token');
  }
  // The intent is untouched: the right key still opens it.
  const [status, view] = await api(main, 'GET', `/v1/widget/link_intents/${intent.widget_token}`, { key: main.pk });
  assert.equal(status, 200, JSON.stringify(view));
});

browserTest('a used widget token and an expired one are refused with a reason', {}, async (page) => {
  const used = await createLinkIntent(main, 'cl');
  await apiOk(main, 'POST', `/v1/widget/link_intents/${used.widget_token}/credentials`, {
    key: main.pk, body: { institution_id: 'cl_banco_sandbox', username: '41614850-3', password: 'jonsnow' },
  });
  let [title] = await failureShown(page, options(used));
  assert.equal(title, 'Already connected');

  const short = servers.short;
  const stale = await createLinkIntent(short, 'cl');
  await eventually(async () => (await apiOk(short, 'GET', `/v1/link_intents/${stale.id}`)).status === 'expired',
    'the link intent to expire');
  [title] = await failureShown(page, { ...options(stale), publicKey: short.pk }, short);
  assert.equal(title, 'This request expired');
  assert.equal((await log(page)).filter((e) => e[0] === 'success').length, 0);
});

browserTest('messages from other windows and origins are ignored', {}, async (page) => {
  const intent = await createLinkIntent(main, 'cl');
  await openHost(page);
  const frame = await openWidget(page, options(intent));
  await frame.getByRole('button', { name: 'Banco Sandbox Chile' }).waitFor();
  const channel = await page.evaluate(() =>
    new URLSearchParams(document.querySelector('iframe[data-refresco-frame]').src.split('#')[1]).get('channel'));

  // The host page itself posts a fake success with the right channel: wrong origin and window.
  await page.evaluate((ch) => new Promise((resolve) => {
    window.postMessage({ type: 'refresco:success', channel: ch, payload: { exchangeToken: 'fake' } }, '*');
    window.postMessage({ type: 'refresco:close', channel: ch }, '*');
    window.addEventListener('message', (e) => { if (e.data === 'marker') resolve(); });
    window.postMessage('marker', '*');
  }), channel);

  // A frame on a third origin tells the host it succeeded, and tells the widget to open.
  await page.evaluate((url) => new Promise((resolve) => {
    const rogue = document.createElement('iframe');
    rogue.src = url;
    rogue.onload = resolve;
    document.body.appendChild(rogue);
  }), rogueUrl());
  await page.evaluate((ch) => new Promise((resolve) => {
    window.addEventListener('message', (e) => { if (e.data && e.data.type === 'rogue:done') resolve(); });
    document.querySelectorAll('iframe')[1].contentWindow.postMessage({ type: 'rogue:go', channel: ch }, '*');
  }), channel);
  // A round trip through the widget: anything it accepted from the rogue frame is logged by now.
  await frame.getByLabel('Search your bank').fill('sandbox');
  await frame.getByRole('button', { name: 'Banco Sandbox Chile' }).click();
  await waitForLog(page, 'event', 'on_authentication_form');

  const entries = await log(page);
  assert.equal(entries.filter((e) => e[0] === 'success' || e[0] === 'exit').length, 0, JSON.stringify(entries));
  assert.deepEqual(await eventNames(page), ['opened', 'on_available_institutions', 'on_authentication_form'],
    'the widget took no "open" from the rogue frame');
  assert.equal(await frame.getByLabel('RUT').isVisible(), true, 'the widget went on normally');
});

browserTest('the widget page refuses to run opened directly or framed under a false origin', {}, async (page) => {
  // Nobody asked for English: the page speaks the default language, Spanish.
  await page.goto(`${main.url}/widget`);
  await page.getByRole('heading', { name: 'Esta página no se puede abrir directamente' }).waitFor();

  await openHost(page);
  await page.evaluate((src) => {
    const frame = document.createElement('iframe');
    frame.id = 'liar';
    frame.src = src;
    document.body.appendChild(frame);
  }, `${main.url}/widget#channel=${'a'.repeat(32)}&origin=${encodeURIComponent('http://example.com')}`);
  await page.frameLocator('#liar').getByRole('heading', { name: 'Esta página no se puede abrir directamente' }).waitFor();
});

browserTest('markup in a bank name is shown as text, never run', {}, async (page) => {
  const [, widgetToken] = await createMfaRefresh(main, MARKUP_REFRESH_LINK_TOKEN);
  await openHost(page);
  const frame = await openWidget(page,
    { publicKey: main.pk, widgetToken, holderType: 'individual', product: 'refresh_intent', language: 'en' });
  await frame.getByLabel('SMS code', { exact: true }).waitFor();
  const prompt = await frame.locator('#code-prompt').textContent();
  assert.ok(prompt.includes(MARKUP), `the name is there, as typed: ${prompt}`);
  const inside = await widgetFrame(page).evaluate(() => ({
    images: document.querySelectorAll('img, b').length, xss: window.__xss,
  }));
  assert.deepEqual(inside, { images: 0, xss: undefined });
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  await frame.getByLabel('SMS code', { exact: true }).fill('123456');
  await frame.getByRole('button', { name: 'Continue' }).click();
  await waitForLog(page, 'success');
  assert.match(await frame.locator('#done-text').textContent(), /<img src=x/);
  assert.equal(await widgetFrame(page).evaluate(() => document.querySelectorAll('img, b').length), 0);
});
