// Reconnecting a link whose credentials the bank rejected, in the widget: the integrator's
// server creates a link intent with the link's token, and the person types only the new
// password (a wrong one first). The link keeps its id; the exchange answers it without a token.

import {
  apiOk, assert, browserTest, eventNames, eventually, focusedInWidget, openHost, openWidget,
  screenshot, servers, waitForLog,
} from './harness.mjs';

const main = servers.main;

/** A Chilean sandbox link whose first refresh after its first history is rejected. */
async function rejectedLink(server) {
  const link = await apiOk(server, 'POST', '/v1/links', {
    body: { institution_id: 'cl_banco_sandbox', username: '41614850-3', password: 'jonsnow+invalid@1' },
  });
  const token = encodeURIComponent(link.link_token);
  const ended = (id) => eventually(async () => {
    const intent = await apiOk(server, 'GET', `/v1/refresh_intents/${id}?link_token=${token}`);
    return intent.status !== 'created' && intent;
  }, `refresh intent ${id}`);
  const [history] = await apiOk(server, 'GET', `/v1/refresh_intents?link_token=${token}`);
  await ended(history.id);
  const intent = await apiOk(server, 'POST', '/v1/refresh_intents', { body: { link_token: link.link_token } });
  assert.equal((await ended(intent.id)).status, 'rejected');
  const now = await apiOk(server, 'GET', `/v1/links/${token}`);
  assert.equal(now.status, 'login_required');
  return link;
}

browserTest('reconnects a rejected link with its new password, a wrong one first', {}, async (page) => {
  const link = await rejectedLink(main);
  const intent = await apiOk(main, 'POST', '/v1/link_intents', {
    body: { product: 'movements', country: 'cl', holder_type: 'individual', link_token: link.link_token },
  });
  await openHost(page);
  const frame = await openWidget(page, {
    publicKey: main.pk, widgetToken: intent.widget_token, product: 'movements', language: 'en',
  });

  // No bank picker: the link's bank and login are shown, and the focus waits in the password.
  await frame.getByRole('heading', { name: 'Reconnect your bank' }).waitFor();
  await frame.getByRole('heading', { name: 'Log in to your bank' }).waitFor();
  assert.equal(await frame.locator('#login-bank').textContent(), 'Banco Sandbox Chile');
  const username = frame.getByLabel('RUT');
  assert.equal(await username.inputValue(), link.username);
  assert.equal(await username.evaluate((input) => input.readOnly), true);
  assert.equal(await frame.getByRole('button', { name: 'Choose another bank' }).isVisible(), false);
  assert.equal(await focusedInWidget(page), 'password');
  await screenshot(page, 'reconnect-password');

  await page.keyboard.type('wrong');
  await page.keyboard.press('Enter');
  await frame.getByRole('alert').filter({ hasText: '4 attempts left' }).waitFor();
  assert.equal(await focusedInWidget(page), 'password');
  await screenshot(page, 'reconnect-wrong-password');
  await page.keyboard.type('jonsnow');
  await page.keyboard.press('Enter');

  const [, success] = await waitForLog(page, 'success');
  assert.equal(success.link.id, link.id, 'the same link');
  assert.equal(success.exchangeToken, intent.exchange_token);
  await frame.getByRole('heading', { name: 'Your bank is reconnected' }).waitFor();
  await screenshot(page, 'reconnect-done');
  const events = await eventNames(page);
  assert.ok(!events.includes('on_available_institutions'), events.join(' '));
  assert.equal(events[events.length - 1], 'link_created');

  // The integrator's server: the exchange answers the same link, without a token, and the
  // link is active again.
  const exchanged = await apiOk(main, 'GET', `/v1/links/exchange?exchange_token=${success.exchangeToken}`);
  assert.equal(exchanged.id, link.id);
  assert.equal(exchanged.link_token, null);
  assert.deepEqual(exchanged.accounts.map((a) => a.id), link.accounts.map((a) => a.id));
  const now = await apiOk(main, 'GET', `/v1/links/${encodeURIComponent(link.link_token)}`);
  assert.equal(now.status, 'active');
});
