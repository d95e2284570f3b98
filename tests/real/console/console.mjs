// Drives Debian's chromium through the web console the way an operator
// does; prints "ok: ..." or "FAIL: ..." per check (test_console.sh counts
// them). Environment: URL, ADMIN, VIEWER (tokens), OUT (screenshots),
// HOSTS (JSON: name -> aio-max-nr in its sysroot), MAX and PAUSE_MAX (the
// rollouts to start), HOSTS_GLOB and PAUSE_HOSTS (their selections).
import { chromium } from 'playwright-core';

const env = process.env;
const hosts = JSON.parse(env.HOSTS);
let failed = 0;
function check(what, ok, detail = '') {
  if (!ok) failed++;
  console.log(`${ok ? 'ok' : 'FAIL'}: ${what}${detail ? ' (' + detail + ')' : ''}`);
}

const browser = await chromium.launch({
  executablePath: env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const errors = [];
function watch(page, label) {
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`${label}: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`${label}: ${e.message}`));
}
async function shot(page, name) {
  await page.screenshot({ path: `${env.OUT}/${name}.png`, fullPage: true });
}
async function login(page, token) {
  await page.goto(env.URL + '/ui/');
  await page.waitForSelector('#login #token');
  await page.fill('#token', token);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('#nav:not([hidden])');
}

try {
  // ------------------------------------------------------------ admin
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 800 } });
  const page = await ctx.newPage();
  watch(page, 'admin');
  await page.goto(env.URL + '/ui/');
  await page.waitForSelector('#login');
  await shot(page, 'login');
  await login(page, env.ADMIN);
  await page.waitForSelector('table tbody tr');
  const rows = await page.$$eval('main table tbody tr', (trs) =>
    trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  const seen = Object.fromEntries(rows.map((r) => [r[0], r[2].replace(/,/g, '')]));
  check('the fleet page lists every agent', Object.keys(hosts).every((h) => h in seen) &&
    rows.length === Object.keys(hosts).length, JSON.stringify(Object.keys(seen)));
  check('each with the aio-max-nr of its sysroot',
    Object.entries(hosts).every(([h, max]) => seen[h] === String(max)), JSON.stringify(seen));
  await page.click('th[data-key=name]');
  const sorted = await page.$$eval('main table tbody tr td:first-child', (tds) => tds.map((t) => t.textContent));
  check('a click on Host sorts by name', JSON.stringify(sorted) === JSON.stringify([...sorted].sort()), sorted.join(','));
  await page.fill('#filter', Object.keys(hosts)[0]);
  const filtered = await page.$$eval('main table tbody tr', (t) => t.length);
  check('the filter narrows the list', filtered >= 1 && filtered < rows.length, String(filtered));
  await page.fill('#filter', '');
  await page.selectOption('#util', '0.9');
  const hot = await page.$$eval('main table tbody tr td:first-child', (tds) => tds.map((t) => t.textContent));
  check('utilisation 90% or more: only the nearly full host', JSON.stringify(hot) === JSON.stringify([env.FULL_HOST]), hot.join(','));
  await page.selectOption('#util', '0');
  await page.selectOption('#room', '8');
  const tight = await page.$$eval('main table tbody tr td:first-child', (tds) => tds.map((t) => t.textContent));
  check('room 8 contexts or less: the same host', JSON.stringify(tight) === JSON.stringify([env.FULL_HOST]), tight.join(','));
  await page.selectOption('#room', '-1');
  await shot(page, 'fleet');

  const first = Object.keys(hosts)[0];
  await page.goto(env.URL + '/ui/#/host/' + first);
  await page.waitForSelector('svg.chart');
  const h1 = await page.textContent('h1');
  check('the host page shows the host, its chart and its files', h1.includes(first) &&
    (await page.$$('svg.chart polyline.limit')).length === 1);
  await shot(page, 'host');
  for (const [hash, name, sel] of [['#/errors', 'errors', 'h1'], ['#/alerts', 'alerts', 'h1'], ['#/trend', 'trend', 'svg.chart']]) {
    await page.goto(env.URL + '/ui/' + hash);
    await page.waitForSelector(sel);
    await page.waitForFunction(() => document.getElementById('status').textContent.length > 0);
    await shot(page, name);
  }
  check('the errors, alerts and capacity pages render', true);

  // a rollout from the page: the plan first, then start
  await page.goto(env.URL + '/ui/#/rollouts');
  await page.waitForSelector('#newrollout');
  await page.fill('#max', env.MAX);
  await page.fill('#hosts', env.HOSTS_GLOB);
  await page.fill('#soak', '0s');
  await page.click('#planbtn');
  await page.waitForSelector('#start');
  const plan = await page.textContent('#plan');
  check('the form shows the dry-run plan before it starts', plan.includes('nothing changed yet'), plan.slice(0, 120));
  await shot(page, 'rollout-plan');
  await page.click('#start');
  await page.waitForURL(/#\/rollout\/\d+$/);
  const id = page.url().match(/rollout\/(\d+)$/)[1];
  console.log('rollout: ' + id);
  await page.waitForFunction(() => document.getElementById('state')?.textContent === 'completed', null, { timeout: 30000 });
  const stepStates = await page.$$eval('#steps tbody tr td:nth-child(3)', (t) => t.map((x) => x.textContent));
  check('the rollout page follows it to completed, every host done', stepStates.length > 0 && stepStates.every((s) => s === 'done'), stepStates.join(','));
  await shot(page, 'rollout');

  // pausing from the page
  await page.goto(env.URL + '/ui/#/rollouts');
  await page.waitForSelector('#newrollout');
  await page.fill('#max', env.PAUSE_MAX);
  await page.fill('#hosts', env.PAUSE_HOSTS);
  await page.fill('#canary', '1');
  await page.fill('#soak', '10m');
  await page.click('#planbtn');
  await page.waitForSelector('#start');
  await page.click('#start');
  await page.waitForURL(/#\/rollout\/\d+$/);
  const pid = page.url().match(/rollout\/(\d+)$/)[1];
  console.log('paused: ' + pid);
  await page.waitForSelector('#pause');
  await page.click('#pause');
  await page.waitForFunction(() => document.getElementById('state')?.textContent === 'paused', null, { timeout: 10000 });
  check('Pause on the page pauses it; Resume and Abort are offered',
    !!(await page.$('#resume')) && !!(await page.$('#abort')));
  await shot(page, 'rollout-paused');
  await ctx.close();

  // ------------------------------------------------------------ viewer
  const vctx = await browser.newContext({ viewport: { width: 1366, height: 800 } });
  const v = await vctx.newPage();
  watch(v, 'viewer');
  await login(v, env.VIEWER);
  await v.waitForSelector('main table tbody tr');
  const buttons = async () => v.$$eval('main button', (b) => b.map((x) => x.textContent));
  check('a viewer: no buttons on the fleet page', (await buttons()).length === 0);
  await v.goto(env.URL + '/ui/#/rollouts');
  await v.waitForSelector('main h1');
  await v.waitForFunction(() => document.getElementById('status').textContent.startsWith('Rollouts'));
  check('a viewer: no rollout form', !(await v.$('#newrollout')) && (await buttons()).length === 0);
  await v.goto(env.URL + '/ui/#/rollout/' + pid);
  await v.waitForSelector('#steps');
  check('a viewer: no pause, resume, abort or rollback', (await buttons()).length === 0, (await buttons()).join(','));
  await shot(v, 'viewer-rollout');
  // a forged POST with the viewer's token, from a page of its own (its
  // 403 is logged by chromium as a failed load, on purpose)
  const forge = await vctx.newPage();
  await forge.goto(env.URL + '/ui/');
  const status = await forge.evaluate(async ([token, max]) => {
    const r = await fetch('/api/v1/rollouts', {
      method: 'POST', headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
      body: JSON.stringify({ max: Number(max) }),
    });
    return r.status;
  }, [env.VIEWER, env.MAX]);
  check('a viewer\'s forged POST /api/v1/rollouts: 403', status === 403, String(status));
  await vctx.close();
  check('the console logged no error', errors.length === 0, errors.join(' | '));
} catch (err) {
  check('the console session ran to its end', false, err.stack);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
