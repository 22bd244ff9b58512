// The operator dashboard in Chromium: sign in with the operator token (by keyboard), find a link
// by its holder, open a refresh's timeline, resend an event and see its new attempt appear.
// Every step leaves a screenshot in REFRESCO_ARTIFACTS/dashboard-*.png; the harness fails the
// test on a script error or a Content-Security-Policy violation (anything fetched elsewhere).

import { assert, browserTest, eventually, screenshot } from './harness.mjs';

const OPS = process.env.REFRESCO_OPS_URL;
const TOKEN = process.env.REFRESCO_OPERATOR_TOKEN;
const HOLDER = process.env.REFRESCO_OPS_HOLDER;

/** The number of attempt rows, or null while the page reloads itself. */
async function attemptRows(page) {
  try {
    return await page.locator('tr.attempt').count();
  } catch {
    return null;
  }
}

browserTest('the dashboard: sign in, find a link, open its timeline, resend an event', {}, async (page) => {
  assert.ok(OPS && TOKEN && HOLDER, 'run through `cargo test --test browser`');
  // Signed out, the dashboard asks for the token.
  await page.goto(`${OPS}/dashboard`);
  assert.equal(new URL(page.url()).pathname, '/dashboard/sign-in');
  const token = page.getByLabel('Operator token');
  await token.fill('a wrong token');
  await token.press('Enter');
  await page.getByRole('alert').filter({ hasText: 'not the operator token' }).waitFor();
  await page.getByLabel('Operator token').fill(TOKEN);
  await page.getByLabel('Operator token').press('Enter');
  await page.waitForURL(`${OPS}/dashboard`);
  await page.getByRole('heading', { name: 'Job queue' }).waitFor();
  await screenshot(page, 'dashboard-overview');

  // Links: "/" jumps to the search field; both modes are marked.
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Links' }).click();
  await page.waitForURL(`${OPS}/dashboard/links`);
  assert.equal(await page.locator('.mode-live').count() > 0, true, 'a live link is marked LIVE');
  assert.equal(await page.locator('.mode-test').count() > 0, true, 'a test link is marked TEST');
  await screenshot(page, 'dashboard-all-links');
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'q');
  await page.keyboard.type(HOLDER);
  await page.keyboard.press('Enter');
  await page.waitForURL((url) => url.searchParams.get('q') === HOLDER);
  const rows = page.locator('table.links tbody tr');
  assert.equal(await rows.count(), 1);
  await screenshot(page, 'dashboard-links');

  // The link: its refresh as a timeline, with each account's outcome.
  await rows.first().getByRole('link').click();
  const intent = page.locator('article.intent').first();
  for (const step of ['Created', 'Started', 'Finished']) {
    await intent.locator('ol.timeline li', { hasText: step }).first().waitFor();
  }
  await intent.locator('table.accounts').waitFor();
  assert.match(await intent.locator('h3').innerText(), /succeeded/);
  await screenshot(page, 'dashboard-timeline');

  // The event its endpoint received: one attempt; resend; a second attempt appears by itself.
  await page.locator('tr', { hasText: 'link.refresh_intent.succeeded' }).getByRole('link').first().click();
  await page.locator('tr.attempt').first().waitFor();
  assert.equal(await attemptRows(page), 1);
  await page.getByRole('button', { name: 'Resend to this endpoint' }).first().click();
  await eventually(async () => (await attemptRows(page)) === 2, 'the new attempt on the page');
  await page.locator('tr.attempt').nth(1).waitFor();
  await screenshot(page, 'dashboard-event');

  // Endpoints with their health.
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Webhooks' }).click();
  await page.getByRole('button', { name: /^Recover / }).first().waitFor();
  await screenshot(page, 'dashboard-webhooks');

  // The token never reaches a page.
  const html = await page.content();
  assert.ok(!html.includes(TOKEN), 'the operator token in a page');
});
