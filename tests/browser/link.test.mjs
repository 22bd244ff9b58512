// Link creation through the widget, as a person does it: choosing a bank, logging in, a second
// factor, errors they can act on, closing the widget; by keyboard on a phone-sized screen.

import {
  PHONE, api, apiOk, assert, assertTimestamps, browserTest, createLinkIntent, createWidget, eventNames,
  focusedInWidget, log, openHost, openWidget, servers, waitForLog, widgetFrame, widgetVisible,
} from './harness.mjs';

const main = servers.main;

function widgetOptions(intent) {
  return {
    publicKey: main.pk, widgetToken: intent.widget_token, holderType: intent.holder_type,
    product: 'movements', country: intent.country, language: 'en',
  };
}

browserTest('connects the Chilean sandbox bank by keyboard on a phone-sized screen', { viewport: PHONE }, async (page) => {
  const intent = await createLinkIntent(main, 'cl');
  await openHost(page);
  assert.equal(await createWidget(page, widgetOptions(intent)), null);
  await page.focus('#opener');
  await page.keyboard.press('Enter');
  await waitForLog(page, 'event', 'opened');
  const frame = page.frameLocator('iframe[data-refresco-frame]');

  // The widget fills the phone's screen, and nothing in it scrolls sideways.
  const box = await page.locator('iframe[data-refresco-frame]').boundingBox();
  assert.equal(Math.round(box.width), PHONE.width);
  assert.equal(Math.round(box.height), PHONE.height);
  await frame.getByRole('button', { name: 'Banco Sandbox Chile' }).waitFor();
  assert.ok(await widgetFrame(page).evaluate(() => document.documentElement.scrollWidth <= window.innerWidth));

  // Keyboard only: the focus is where the person needs it at every step.
  assert.equal(await focusedInWidget(page), 'search');
  await page.keyboard.type('chile');
  await frame.getByRole('status').filter({ hasText: '1 bank found.' }).waitFor();
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await frame.getByLabel('RUT').waitFor();
  assert.equal(await focusedInWidget(page), 'username');
  await page.keyboard.type('41614850-3');
  await page.keyboard.press('Tab');
  await page.keyboard.type('jonsnow');
  await page.keyboard.press('Enter');

  const [, success] = await waitForLog(page, 'success');
  assert.match(success.exchangeToken, new RegExp(`^${intent.id}_exc_`));
  assert.equal(success.exchangeToken, intent.exchange_token);
  assert.equal(success.link.institution.id, 'cl_banco_sandbox');
  await frame.getByRole('heading', { name: 'Your bank is connected' }).waitFor();
  assert.equal(await focusedInWidget(page), 'done-title');
  assert.deepEqual(await eventNames(page),
    ['opened', 'on_available_institutions', 'on_authentication_form', 'creating_link', 'link_created']);
  await assertTimestamps(page);

  // Done by keyboard: the widget closes, the focus returns to the page, and no onExit.
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'opener');
  assert.equal(await widgetVisible(page), false);
  assert.equal((await log(page)).filter((e) => e[0] === 'exit').length, 0);

  // The integrator's server exchanges the token for the link.
  const link = await apiOk(main, 'GET', `/v1/links/exchange?exchange_token=${success.exchangeToken}`);
  assert.match(link.link_token, /^link_.+_token_/);
  assert.equal(link.institution.id, 'cl_banco_sandbox');
});

browserTest('connects the Mexican sandbox bank with an SMS code, a wrong one first', {}, async (page) => {
  const intent = await createLinkIntent(main, 'mx');
  await openHost(page);
  const frame = await openWidget(page, widgetOptions(intent));
  await frame.getByLabel('Search your bank').fill('méx');
  await frame.getByRole('button', { name: 'Banco Sandbox México' }).click();
  await frame.getByLabel('RFC').fill('SAND800101AB1');
  await frame.getByLabel('Password').fill('jonsnow');
  await frame.getByRole('button', { name: 'Connect' }).click();

  await waitForLog(page, 'event', 'sms_authentication_required');
  await frame.getByLabel('SMS code', { exact: true }).waitFor();
  assert.equal(await focusedInWidget(page), 'code');
  const prompt = await frame.locator('#code-prompt').textContent();
  assert.match(prompt, /SMS/);

  await frame.getByLabel('SMS code', { exact: true }).fill('000000');
  await frame.getByRole('button', { name: 'Continue' }).click();
  const alert = frame.getByRole('alert');
  await alert.filter({ hasText: 'That code is not right' }).waitFor();
  assert.match(await alert.textContent(), /2 attempts left/);
  assert.equal(await frame.getByLabel('SMS code', { exact: true }).getAttribute('aria-invalid'), 'true');
  assert.equal(await focusedInWidget(page), 'code');

  await frame.getByLabel('SMS code', { exact: true }).fill('123456');
  await frame.getByRole('button', { name: 'Continue' }).click();
  const [, success] = await waitForLog(page, 'success');
  assert.equal(success.link.institution.id, 'mx_banco_sandbox');
  assert.equal(await alert.isHidden(), true, 'the error is gone');
  const accounts = await frame.locator('#accounts li').allTextContents();
  assert.ok(accounts.length >= 2 && accounts.every((a) => /••••\d{4}/.test(a)), accounts.join('|'));
  assert.deepEqual(await eventNames(page), ['opened', 'on_available_institutions', 'on_authentication_form',
    'creating_link', 'sms_authentication_required', 'link_created']);
  await assertTimestamps(page);
  const link = await apiOk(main, 'GET', `/v1/links/exchange?exchange_token=${success.exchangeToken}`);
  assert.equal(link.institution.id, 'mx_banco_sandbox');
  const [status] = await api(main, 'GET', `/v1/links/exchange?exchange_token=${success.exchangeToken}`);
  assert.equal(status, 422, 'a second exchange fails');
});

browserTest('shows bank errors a person can act on, then connects', {}, async (page) => {
  const intent = await createLinkIntent(main, 'cl');
  await openHost(page);
  const frame = await openWidget(page, widgetOptions(intent));
  await frame.getByRole('button', { name: 'Banco Sandbox Chile' }).click();
  const alert = frame.getByRole('alert');
  const attempt = async (password, expected) => {
    await frame.getByLabel('RUT').fill('41614850-3');
    await frame.getByLabel('Password').fill(password);
    await frame.getByRole('button', { name: 'Connect' }).click();
    await alert.filter({ hasText: expected }).waitFor();
    return alert.textContent();
  };
  assert.match(await attempt('wrong', 'did not accept that username or password'), /4 attempts left/);
  assert.equal(await focusedInWidget(page), 'password');
  assert.equal(await frame.getByLabel('Password').inputValue(), '', 'the wrong password is cleared');
  await attempt('jonsnow+locked', 'has locked these credentials');
  assert.equal(await focusedInWidget(page), 'username');
  await attempt('jonsnow+unavailable', 'is not answering right now');

  // Another bank? Back to the list and again.
  await frame.getByRole('button', { name: 'Choose another bank' }).click();
  await frame.getByRole('button', { name: 'Banco Sandbox Chile' }).click();
  await frame.getByLabel('RUT').fill('41614850-3');
  await frame.getByLabel('Password').fill('jonsnow');
  await frame.getByRole('button', { name: 'Connect' }).click();
  await waitForLog(page, 'success');
  assert.equal((await log(page)).filter((e) => e[0] === 'exit').length, 0);
});

browserTest('onExit fires when the person closes the widget, by Escape or by the close button', {}, async (page) => {
  const intent = await createLinkIntent(main, 'cl');
  await openHost(page);
  const frame = await openWidget(page, widgetOptions(intent));
  await frame.getByRole('button', { name: 'Banco Sandbox Chile' }).waitFor();
  // The rest of the page is out of reach while the widget is open.
  assert.equal(await page.evaluate(() => document.getElementById('opener').closest('[inert]') !== null
    || document.getElementById('opener').inert), true);
  await page.keyboard.press('Escape');
  const [, exit] = await waitForLog(page, 'exit');
  assert.equal(exit.reason, 'closed');
  assert.equal(await widgetVisible(page), false);
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'opener');
  assert.equal(await page.evaluate(() => document.getElementById('opener').inert), false);

  // Opened again, it is where the person left it; the close button exits too.
  await page.click('#opener');
  await page.waitForFunction(() => window.__log.filter((e) => e[1] === 'opened').length === 2);
  await frame.getByRole('button', { name: 'Close' }).click();
  await page.waitForFunction(() => window.__log.filter((e) => e[0] === 'exit').length === 2);
  assert.equal((await log(page)).filter((e) => e[0] === 'success').length, 0);

  // destroy() removes it for good.
  await page.evaluate(() => window.__widget.destroy());
  assert.equal(await page.locator('iframe[data-refresco-frame]').count(), 0);
});
