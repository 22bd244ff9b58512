// A refresh's second factor in the widget: SMS code (a wrong one first), device token, approval
// in the bank's app, and a token whose challenge expired.

import {
  apiOk, assert, assertTimestamps, browserTest, createMfaLink, createMfaRefresh, eventNames,
  eventually, focusedInWidget, log, openHost, openWidget, servers, waitForLog, widgetVisible,
} from './harness.mjs';

const main = servers.main;

function refreshOptions(server, widgetToken) {
  return { publicKey: server.pk, widgetToken, holderType: 'individual', product: 'refresh_intent', language: 'en' };
}

async function intentStatus(server, linkToken, id) {
  return apiOk(server, 'GET', `/v1/refresh_intents/${id}?link_token=${linkToken}`);
}

browserTest('refresh MFA by SMS code: a wrong code, then the right one', {}, async (page) => {
  const linkToken = await createMfaLink(main, 'jonsnow+mfa_sms+changes');
  const [intent, widgetToken] = await createMfaRefresh(main, linkToken);
  await openHost(page);
  const frame = await openWidget(page, refreshOptions(main, widgetToken));
  const code = frame.getByLabel('SMS code', { exact: true });
  await code.waitFor();
  await waitForLog(page, 'event', 'sms_authentication_required');
  assert.equal(await focusedInWidget(page), 'code');
  assert.match(await frame.locator('#code-prompt').textContent(), /^Banco Sandbox Chile sent you a code by SMS\. \(Test mode/);

  await code.fill('000000');
  await code.press('Enter');
  const alert = frame.getByRole('alert');
  await alert.filter({ hasText: 'That code is not right' }).waitFor();
  assert.match(await alert.textContent(), /2 attempts left/);
  assert.equal(await focusedInWidget(page), 'code');
  assert.equal((await intentStatus(main, linkToken, intent.id)).status, 'created', 'still waiting');

  await code.fill('123456');
  await frame.getByRole('button', { name: 'Continue' }).click();
  const [, success] = await waitForLog(page, 'success');
  assert.deepEqual(success, { refreshIntentId: intent.id, status: 'succeeded' });
  await frame.getByRole('heading', { name: 'Your movements are up to date' }).waitFor();
  const done = await intentStatus(main, linkToken, intent.id);
  assert.equal(done.status, 'succeeded');
  assert.ok(done.new_movements > 0, 'the refresh went on and brought new movements');
  assert.deepEqual(await eventNames(page), ['opened', 'sms_authentication_required']);
  await assertTimestamps(page);
  await frame.getByRole('button', { name: 'Done' }).click();
  await eventually(async () => !(await widgetVisible(page)), 'the widget to close');
  assert.equal((await log(page)).filter((e) => e[0] === 'exit').length, 0, 'no onExit after success');
});

browserTest('refresh MFA by device token', {}, async (page) => {
  const linkToken = await createMfaLink(main, 'jonsnow+mfa_device');
  const [intent, widgetToken] = await createMfaRefresh(main, linkToken);
  await openHost(page);
  const frame = await openWidget(page, refreshOptions(main, widgetToken));
  const code = frame.getByLabel('Token code', { exact: true });
  await code.fill('123456');
  await code.press('Enter');
  await waitForLog(page, 'success');
  assert.deepEqual(await eventNames(page), ['opened', 'device_authentication_required']);
  assert.equal((await intentStatus(main, linkToken, intent.id)).status, 'succeeded');
});

browserTest('refresh MFA by approval in the bank app', {}, async (page) => {
  const linkToken = await createMfaLink(main, 'jonsnow+mfa_app');
  const [intent, widgetToken] = await createMfaRefresh(main, linkToken);
  await openHost(page);
  const frame = await openWidget(page, refreshOptions(main, widgetToken));
  await frame.getByRole('heading', { name: "Approve in your bank's app" }).waitFor();
  assert.equal(await focusedInWidget(page), 'app-title');
  assert.match(await frame.locator('#app-prompt').textContent(), /approve the login/);
  await frame.getByRole('button', { name: 'I approved it' }).click();
  await waitForLog(page, 'success');
  assert.deepEqual(await eventNames(page), ['opened', 'app_authentication_required']);
  assert.equal((await intentStatus(main, linkToken, intent.id)).status, 'succeeded');
});

browserTest('an expired refresh token says so, and closing calls onExit', {}, async (page) => {
  const short = servers.short;
  const linkToken = await createMfaLink(short, 'jonsnow+mfa_sms');
  const [intent, widgetToken] = await createMfaRefresh(short, linkToken);
  const ended = await eventually(async () => {
    const now = await intentStatus(short, linkToken, intent.id);
    return now.status !== 'created' && now;
  }, 'the second factor to expire');
  assert.equal(ended.failure_reason, 'mfa_expired');

  await openHost(page, short);
  const frame = await openWidget(page, refreshOptions(short, widgetToken));
  await frame.getByRole('heading', { name: 'This request is over' }).waitFor();
  assert.match(await frame.locator('#failed-text').textContent(), /expired/);
  await frame.getByRole('button', { name: 'Close', exact: true }).first().click();
  const [, exit] = await waitForLog(page, 'exit');
  assert.equal(exit.reason, 'error');
  assert.equal(exit.error.code, 'refresh_intent_finished');
  assert.equal((await log(page)).filter((e) => e[0] === 'success').length, 0);
});
