// The dashboard in Debian's chromium, driven by playwright-core (tests/it/dashboard.sh installs
// it and starts the world). Clicks through the page as a user would and writes what the shell
// side checks next (server addresses, the credentials' curl line) to $OUT/browser.json.
// Prints "FAIL: ..." for each failed check and "checks: N" at the end; exits 1 on a failure.
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const URL_ = env('CTL_URL');
const OUT = env('OUT');
const PW_PREFIX = env('PW_PREFIX');
const ADMIN_PW = env('ADMIN_PW');
const IMAGE = env('DEMO_IMAGE');
const VERSION = env('EXPECTED_VERSION');
const CODE_ZIP = env('CODE_ZIP');
const SIM_URL = env('SIM_URL');
const GIT_URL = env('GIT_URL');
const GIT_TOKEN = env('GIT_TOKEN');
const simFaults = (f) => fetch(`${SIM_URL}/_sim/faults`, { method: 'POST', body: JSON.stringify(f) });
const DEADLINE_MS = Number(process.env.BROWSER_DEADLINE_MS || 150000);

const require = createRequire(`${PW_PREFIX}/node_modules/`);
const { chromium } = require('playwright-core');

let checks = 0;
let failures = 0;
const fail = (msg) => { failures++; console.log(`FAIL: ${msg}`); };
const check = (cond, msg) => { checks++; if (!cond) fail(msg); };
const eq = (got, want, msg) => { checks++; if (got !== want) fail(`${msg}: got ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`); };
const step = (msg) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${msg}`);
const t0 = Date.now();
const out = {};

// A hard stop: the browser is closed (or its process group killed by the shell) whatever happens.
const watchdog = setTimeout(() => {
  console.log(`FAIL: the browser run took longer than ${DEADLINE_MS / 1000} s`);
  process.exit(1);
}, DEADLINE_MS);

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(20000);
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(`page error: ${e.message}`));
page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`); });
const requests = [];
page.on('request', (r) => requests.push(`${r.method()} ${new URL(r.url()).pathname}`));
const dialogs = [];
// Confirmations are answered No unless the test says otherwise (confirmYes).
let confirmYes = false;
page.on('dialog', (d) => { dialogs.push(d.message()); if (confirmYes) d.accept(); else d.dismiss(); });
const serverListRequests = () => requests.filter((r) => r === 'GET /api/v1/infra/servers').length;

// The cheapest size offered in region whose disk holds the newest base snapshot, worked out
// here from the API's lists (the page's choice is checked against it).
const smallestFit = (region) => page.evaluate(async (r) => {
  const headers = { Authorization: `Bearer ${sessionStorage.getItem('deploy-infra.token')}` };
  const get = async (path) => (await fetch(`/api/v1${path}`, { headers })).json();
  const [{ sizes }, { snapshots }] = await Promise.all([get('/infra/sizes'), get('/infra/snapshots')]);
  const snap = snapshots.find((x) => x.name.startsWith('base-docker-debian12-agent-'));
  const fits = sizes.filter((z) => z.regions.includes(r) && z.disk >= snap.min_disk_size);
  fits.sort((a, b) => a.price_monthly - b.price_monthly);
  return fits.length ? fits[0].slug : '';
}, region);

// Only 401s from the wrong password and from the stale token below are expected on the console.
const expected401 = (e) => /401/.test(e) && /Failed to load resource/.test(e);

try {
  // ---- Log in: a wrong password is explained in words; the right one opens the Servers view.
  step('open the page');
  const resp = await page.goto(`${URL_}/`);
  eq(resp.status(), 200, 'GET / answers the page');
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
  await page.getByText(`agents should run ${VERSION}`).waitFor();
  check(true, 'the expected agent version comes from GET /version');
  await page.getByLabel('Username', { exact: true }).fill('admin');
  await page.getByLabel('Password', { exact: true }).fill('not-the-password');
  await page.getByRole('button', { name: 'Log in' }).click();
  const alert = page.locator('#login-error');
  await alert.waitFor({ state: 'visible' });
  const said = (await alert.textContent()).trim();
  check(said.length > 0 && !said.includes('{') && !said.includes('"error"'), `a failed login is shown in words (got "${said}")`);
  await page.getByLabel('Password', { exact: true }).fill(ADMIN_PW);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Servers', exact: true }).waitFor();
  for (const name of ['Servers', 'Deploy', 'Deployments', 'Snapshots', 'Settings']) {
    check(await page.getByRole('navigation').getByRole('link', { name, exact: true }).isVisible(), `the navigation has ${name}`);
  }
  check(await page.evaluate(() => !!sessionStorage.getItem('deploy-infra.token')), 'the token is kept in sessionStorage');

  // ---- Setup: no base snapshot yet; bake it from the Snapshots view with the live log.
  step('bake the base snapshot');
  const servers = page.locator('#view-servers');
  await servers.locator('#setup-banner').filter({ hasText: /no base snapshot yet/ }).waitFor();
  await page.getByRole('navigation').getByRole('link', { name: 'Snapshots', exact: true }).click();
  const snaps = page.locator('#view-snapshots');
  await snaps.locator('#setup-status').filter({ hasText: /No base snapshot yet/ }).waitFor();
  await snaps.getByLabel('Copy to regions', { exact: true }).fill('sfo3');
  await snaps.getByRole('button', { name: 'Create base snapshot' }).click();
  const bakeLog = snaps.locator('#setup-log');
  await bakeLog.getByText(/^step: waiting for agent/).first().waitFor({ timeout: 60000 });
  await bakeLog.getByText(/^(done|failed)/).waitFor({ timeout: 90000 });
  const baked = await bakeLog.getByText(/^(done|failed)/).textContent();
  check(baked.startsWith(`done: made base-docker-debian12-agent-${VERSION}`), `the bake's log reached done (${baked})`);
  await snaps.locator('#setup-status').filter({ hasText: /current\./ }).waitFor();
  check(await snaps.locator('#snapshots-body tr').count() >= 1, 'the new snapshot is listed');

  // ---- A bake outlives its page: after a reload the Snapshots view picks the running bake up
  // again (its log replayed from the start); Cancel stops it and its droplet is deleted.
  step('reload during a bake, then cancel it');
  await simFaults({ slow_actions: 20 }); // the droplet takes 20 s to be active
  await snaps.getByRole('button', { name: 'Create base snapshot' }).click();
  await bakeLog.getByText(/^step: waiting for active/).first().waitFor({ timeout: 30000 });
  await page.reload();
  await bakeLog.getByText(/^step: waiting for active/).first().waitFor({ timeout: 15000 });
  check(await bakeLog.getByText(/^step: creating droplet/).count() >= 1, "after a reload the running bake's log is replayed from its start");
  await snaps.getByRole('button', { name: 'Cancel bake' }).click();
  await bakeLog.getByText(/^canceled/).waitFor({ timeout: 30000 });
  await simFaults({ slow_actions: 1 });
  const bakeState = await page.evaluate(async () => {
    const headers = { Authorization: `Bearer ${sessionStorage.getItem('deploy-infra.token')}` };
    return (await fetch('/api/v1/infra/bake', { headers })).json();
  });
  eq(bakeState.state, 'canceled', 'GET /infra/bake says the bake was canceled');
  let bakeDroplets = -1;
  for (let i = 0; i < 50 && bakeDroplets !== 0; i++) {
    const sim = await (await fetch(`${SIM_URL}/_sim/state`)).json();
    bakeDroplets = sim.droplets.filter((d) => (d.tags || []).includes('dp-bake')).length;
    if (bakeDroplets) await new Promise((r) => setTimeout(r, 200));
  }
  eq(bakeDroplets, 0, "the canceled bake's droplet is deleted");
  check(await snaps.getByRole('button', { name: 'Cancel bake' }).isHidden(), 'Cancel is gone once the bake has ended');

  // ---- Provision two servers, one in the snapshot's first region (preselected), one in the next.
  step('provision two servers');
  await page.getByRole('navigation').getByRole('link', { name: 'Servers', exact: true }).click();
  await servers.locator('#setup-banner').waitFor({ state: 'hidden' }); // no warning once the base is current
  await page.locator('#provision-snapshot option').first().waitFor({ state: 'attached' });
  const regions = await servers.locator('#provision-region option').evaluateAll((os) => os.map((o) => o.value));
  check(regions.length >= 2 && regions.includes('sfo3'), `the snapshot's regions are offered (${regions})`);
  const [firstRegion, otherRegion] = regions;
  eq(await servers.getByLabel('Region', { exact: true }).inputValue(), firstRegion, "the snapshot's first region is preselected");
  const fit1 = await smallestFit(firstRegion);
  check(fit1 !== '', `some size in ${firstRegion} holds the snapshot`);
  eq(await servers.getByLabel('Size', { exact: true }).inputValue(), fit1, 'the smallest size that holds the snapshot is preselected');
  check(await servers.locator('#provision-size option').count() > 1, 'the other sizes that fit are offered');
  await servers.getByLabel('Count', { exact: true }).fill('1');
  await servers.getByRole('button', { name: 'Provision' }).click();
  await page.getByText(new RegExp(`Creating 1 server in ${firstRegion}`)).waitFor();
  await servers.getByLabel('Region', { exact: true }).selectOption(otherRegion);
  const fit2 = await smallestFit(otherRegion);
  eq(await servers.getByLabel('Size', { exact: true }).inputValue(), fit2, `the size follows the region (${otherRegion})`);
  await servers.getByRole('button', { name: 'Provision' }).click();
  await page.getByText(new RegExp(`Creating 1 server in ${otherRegion}`)).waitFor();
  out.regions = [firstRegion, otherRegion];
  out.sizes = [fit1, fit2];
  await page.waitForFunction(() => {
    const trs = [...document.querySelectorAll('#servers-body tr')];
    return trs.length === 2 && trs.every((tr) => tr.dataset.ip && tr.children[4].textContent === 'active');
  }, null, { timeout: 60000 });
  await servers.locator('#provision-msg').filter({ hasText: / up\.$/ }).waitFor();
  const rows = servers.locator('#servers-body tr[data-id]'); // not the health rows
  eq(await rows.count(), 2, 'two servers listed');
  const ips = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.ip));
  check(ips.every((ip) => /^127\.\d+\.\d+\.\d+$/.test(ip)), `the servers have loopback addresses (${ips})`);
  out.ips = ips;
  eq(await servers.locator('#servers-body .warn').count(), 0, 'no agent version warning on current servers');

  // ---- Filter by region and snapshot: from the list already loaded, no new request.
  step('filter servers');
  const before = serverListRequests();
  await servers.getByLabel('Filter by region', { exact: true }).selectOption(otherRegion);
  eq(await rows.count(), 1, `one server in ${otherRegion}`);
  eq(await rows.first().getAttribute('data-region'), otherRegion, `the ${otherRegion} server is the one shown`);
  await servers.getByLabel('Filter by region', { exact: true }).selectOption(firstRegion);
  eq(await rows.count(), 1, `one server in ${firstRegion}`);
  eq(await rows.first().getAttribute('data-region'), firstRegion, `the ${firstRegion} server is shown`);
  await servers.getByLabel('Filter by snapshot', { exact: true }).selectOption({ index: 1 });
  eq(await rows.count(), 1, 'region and snapshot filters combine');
  await servers.getByLabel('Filter by region', { exact: true }).selectOption('');
  eq(await rows.count(), 2, 'both servers carry the base snapshot');
  await servers.getByLabel('Filter by snapshot', { exact: true }).selectOption('');
  eq(serverListRequests(), before, 'filtering sends no request');

  // ---- Health of one server.
  step('health');
  await rows.first().getByRole('button', { name: /^Health/ }).click();
  await servers.locator('tr.detail p.ok').waitFor();
  const health = await servers.locator('tr.detail').first().textContent();
  check(/healthy/.test(health) && health.includes(`agent ${VERSION}`), `the health is shown (${health})`);
  await rows.first().getByRole('button', { name: /^Delete/ }).click();
  for (let i = 0; i < 50 && !dialogs.length; i++) await new Promise((r) => setTimeout(r, 100));
  check(dialogs.length === 1 && /^Delete server server-/.test(dialogs[0]), `deleting asks first (${dialogs})`);
  eq(await rows.count(), 2, 'a delete answered No deletes nothing');

  // ---- Deploy the demo image to both servers and watch the log reach done.
  step('deploy');
  await page.getByRole('navigation').getByRole('link', { name: 'Deploy', exact: true }).click();
  const deploy = page.locator('#view-deploy');
  await deploy.locator('#deploy-servers option').nth(1).waitFor({ state: 'attached' });
  await deploy.getByLabel('Name', { exact: true }).fill('web');
  await deploy.getByLabel('Port', { exact: true }).fill('8080');
  eq(await deploy.getByLabel('Source', { exact: true }).inputValue(), 'image', 'the image source is the default');
  await deploy.getByLabel('Source', { exact: true }).selectOption('git');
  check(await deploy.getByLabel('Git URL', { exact: true }).isVisible(), 'the git source shows Git URL');
  await deploy.getByLabel('Source', { exact: true }).selectOption('code');
  check(await deploy.getByLabel('Code', { exact: true }).isVisible(), 'the code source shows Code');
  await deploy.getByLabel('Source', { exact: true }).selectOption('image');
  eq(await deploy.getByLabel('Image', { exact: true }).inputValue(), IMAGE, "the controller's example image is offered");
  await deploy.getByLabel('Environment variables', { exact: true }).fill('GREETING=hello\n# a comment\nMODE=test');
  await deploy.getByLabel('Target servers', { exact: true }).selectOption(ips);
  await deploy.getByLabel('New servers', { exact: true }).fill('0');
  const snapOpt = await deploy.getByLabel('Snapshot', { exact: true }).evaluate((s) => s.selectedOptions[0] && s.selectedOptions[0].textContent);
  check(/^base-docker-debian12-agent-/.test(snapOpt || ''), `the newest current snapshot is preselected (${snapOpt})`);
  eq(await deploy.getByLabel('Region', { exact: true }).inputValue(), firstRegion, 'its first region is preselected');
  eq(await deploy.getByLabel('Size', { exact: true }).inputValue(), await smallestFit(firstRegion), 'the smallest size that fits is preselected');
  check(await deploy.getByLabel('Size', { exact: true }).isDisabled(), 'the plan for new servers is off while New servers is 0');
  await deploy.getByRole('button', { name: 'Deploy', exact: true }).click();
  const log = deploy.locator('#deploy-log');
  await log.getByText(/^done: /).waitFor({ timeout: 90000 });
  const done = await log.getByText(/^done: /).textContent();
  check(/^done: succeeded on 2 of 2 servers/.test(done), `the deploy succeeded (${done})`);
  const depId = Number((/^started deployment (\d+)/.exec((await log.textContent()) || '') || [])[1]);
  check(depId > 0, 'the started event named the deployment');
  check(/^Deploy succeeded on 2 of 2 servers/.test(await deploy.locator('#deploy-status').textContent()), 'the status says it succeeded');
  out.deployment_id = depId;
  const stepRows = deploy.locator('#deploy-rows li');
  eq(await stepRows.count(), 2, 'one progress row per server');
  eq((await stepRows.evaluateAll((lis) => lis.map((li) => li.dataset.step))).join(','), 'running,running', 'both rows end at running');
  eq((await deploy.locator('#deploy-rows progress').evaluateAll((ps) => ps.map((p) => p.value === p.max))).join(','), 'true,true', 'both progress bars are full');
  eq(await deploy.locator('#deploy-results-body tr td.ok').count(), 2, 'per-server results: two succeeded');
  const logText = await log.textContent();
  check(/step: pulling/.test(logText) && /step: starting/.test(logText), 'the log shows the steps');
  check(!logText.includes('hello'), 'env values stay out of the log');
  eq(await deploy.getByRole('button', { name: 'Cancel deploy' }).isDisabled(), true, 'cancel is off once the deploy is done');
  await page.screenshot({ path: `${OUT}/deploy-view.png`, fullPage: true });

  // ---- A zip of code, uploaded as a form (the file part `code`), to the first server.
  step('deploy code');
  await deploy.getByLabel('Name', { exact: true }).fill('site');
  await deploy.getByLabel('Port', { exact: true }).fill('8082');
  await deploy.getByLabel('Source', { exact: true }).selectOption('code');
  await deploy.getByLabel('Code', { exact: true }).setInputFiles(CODE_ZIP);
  await deploy.getByLabel('Environment variables', { exact: true }).fill('');
  await deploy.getByLabel('Target servers', { exact: true }).selectOption([ips[0]]);
  const form = page.waitForRequest((r) => r.url().endsWith('/api/v1/infra/deploy'));
  await deploy.getByRole('button', { name: 'Deploy', exact: true }).click();
  const sent = await form;
  check(/^multipart\/form-data/.test(sent.headers()['content-type'] || ''), 'code goes up as a form');
  await page.waitForFunction((prev) => {
    const m = /^started deployment (\d+)/.exec(document.getElementById('deploy-log').textContent);
    return m && Number(m[1]) !== prev;
  }, depId);
  await log.getByText(/^done: /).waitFor({ timeout: 90000 });
  const done2 = await log.getByText(/^done: /).textContent();
  check(/^done: succeeded on 1 of 1 server\b/.test(done2), `the code deploy succeeded (${done2})`);
  check(/step: building/.test(await log.textContent()), 'the code was built');
  out.code_deployment_id = Number((/^started deployment (\d+)/.exec((await log.textContent()) || '') || [])[1]);

  // ---- A token-protected git repository, deployed to one new server made for the deploy: the
  // rows go from provisioning to running, and the token never shows.
  step('deploy git to a new server');
  await deploy.getByLabel('Name', { exact: true }).fill('repo');
  await deploy.getByLabel('Port', { exact: true }).fill('8080');
  await deploy.getByLabel('Source', { exact: true }).selectOption('git');
  await deploy.getByLabel('Git URL', { exact: true }).fill(GIT_URL);
  await deploy.getByLabel('Git branch', { exact: true }).fill('main');
  await deploy.getByLabel('Git token', { exact: true }).fill(GIT_TOKEN);
  await deploy.getByLabel('Target servers', { exact: true }).selectOption([]);
  await deploy.getByLabel('New servers', { exact: true }).fill('1');
  check(await deploy.getByLabel('Snapshot', { exact: true }).isEnabled(), 'the plan for new servers is on once New servers is 1');
  await deploy.getByRole('button', { name: 'Deploy', exact: true }).click();
  await page.waitForFunction((prev) => {
    const m = /^started deployment (\d+)/.exec(document.getElementById('deploy-log').textContent);
    return m && Number(m[1]) !== prev;
  }, out.code_deployment_id);
  await log.getByText(/^done: /).waitFor({ timeout: 90000 });
  const done4 = await log.getByText(/^done: /).textContent();
  check(/^done: succeeded on 1 of 1 server\b/.test(done4), `the git deploy to a new server succeeded (${done4})`);
  const gitLog = await log.textContent();
  for (const st of ['provisioning', 'waiting for agent', 'cloning', 'building', 'starting']) {
    check(gitLog.includes(`step: ${st}`), `the git deploy's log shows the step ${st}`);
  }
  check(!gitLog.includes(GIT_TOKEN) && !(await page.content()).includes(GIT_TOKEN.slice(4)), 'the git token shows nowhere in the page');
  const gitRows = await deploy.locator('#deploy-rows li').evaluateAll((lis) => lis.map((li) => [li.dataset.server, li.dataset.step]));
  eq(gitRows.map((r) => r[1]).join(','), 'created,running', `the new server's rows end created and running (${gitRows})`);
  out.git_ip = (gitRows.find((r) => r[0] !== 'new') || [])[0] || '';
  await deploy.getByLabel('Git token', { exact: true }).fill('');

  // ---- Every control has a visible label and an accessible name.
  const unlabeled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
    .filter((e) => { const l = e.id && document.querySelector(`label[for="${e.id}"]`); return !l || !l.textContent.trim(); })
    .map((e) => e.id || e.name || e.outerHTML.slice(0, 60)));
  eq(unlabeled.join(','), '', 'every field has a label');
  const nameless = await page.evaluate(() => [...document.querySelectorAll('button, a')]
    .filter((b) => { const t = b.textContent.trim(); const a = b.getAttribute('aria-label'); return !t || (a && !a.startsWith(t)); })
    .map((b) => b.id || b.outerHTML.slice(0, 60)));
  eq(nameless.join(','), '', 'every button and link shows its name');

  // ---- Phone width: nothing wider than the screen.
  await page.setViewportSize({ width: 375, height: 740 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `the deploy view fits a phone's width (overflows by ${overflow} px)`);
  await page.screenshot({ path: `${OUT}/deploy-view-phone.png`, fullPage: true });
  await page.getByRole('navigation').getByRole('link', { name: 'Servers', exact: true }).click();
  await servers.locator('#servers-body tr').first().waitFor();
  const overflow2 = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow2 <= 1, `the servers view fits a phone's width (overflows by ${overflow2} px)`);
  await page.setViewportSize({ width: 1280, height: 900 });

  // ---- Settings: the token is write-only; Show Credentials gives the curl lines.
  step('credentials');
  await page.getByRole('navigation').getByRole('link', { name: 'Settings', exact: true }).click();
  const settings = page.locator('#view-settings');
  await settings.getByText(/A DigitalOcean token is set/).waitFor();
  eq(await settings.getByLabel('DigitalOcean token', { exact: true }).inputValue(), '', 'the saved token is never shown');
  eq(await settings.getByLabel('DigitalOcean token', { exact: true }).getAttribute('type'), 'password', 'the token field hides what is typed');
  await settings.getByRole('button', { name: 'Show Credentials' }).click();
  await page.waitForFunction(() => !document.getElementById('creds').hidden && document.getElementById('creds-curl').value);
  const curl = await settings.getByLabel('curl line (shell)', { exact: true }).inputValue();
  const curlExe = await settings.getByLabel('curl.exe line (PowerShell)', { exact: true }).inputValue();
  check(/^curl -k --pinnedpubkey 'sha256\/\/.+' -H 'X-API-Key: [0-9a-f]{32}' https:\/\/127\.[0-9.]+:9999\/health$/.test(curl), `a curl line (${curl})`);
  check(/^curl\.exe -k /.test(curlExe), `a curl.exe line (${curlExe})`);
  check(await settings.getByRole('button', { name: 'Copy curl line' }).isVisible(), 'a copy button for the curl line');
  check(await settings.getByRole('button', { name: 'Copy curl.exe line' }).isVisible(), 'a copy button for the curl.exe line');
  await settings.getByRole('button', { name: 'Copy curl line' }).click();
  await settings.locator('#creds-msg').filter({ hasText: /curl line/ }).waitFor();
  out.curl = curl;

  // ---- Snapshots: the base snapshot is current; transfer it to every region.
  step('snapshots');
  await page.getByRole('navigation').getByRole('link', { name: 'Snapshots', exact: true }).click();
  await snaps.locator('#setup-status').filter({ hasText: /current\./ }).waitFor();
  await snaps.getByRole('button', { name: /^Transfer to all regions/ }).first().click();
  await snaps.locator('#snapshots-msg').filter({ hasText: /Copying|every region/ }).waitFor();

  // ---- Deployments: replay the finished deploy's log through a dropped connection; the page
  // resumes with Last-Event-ID and shows every event once. Then restart the app.
  step('replay');
  let routed = 0;
  let keptId = 0;
  let fullEvents = 0;
  let resumedWith = null;
  await page.route(`**/api/v1/deployments/${depId}/events`, async (route) => {
    if (routed++ === 0) {
      const full = await (await route.fetch()).text();
      const blocks = full.split('\n\n').filter((b) => b.trim());
      const events = blocks.filter((b) => /^data: /m.test(b) && !/"type":"heartbeat"/.test(b));
      fullEvents = events.length;
      const cut = events.slice(0, 4);
      keptId = Number(/^id: (\d+)$/m.exec(cut[cut.length - 1])[1]);
      // The stream breaks off after four events, as when the network drops.
      await route.fulfill({ status: 200, headers: { 'content-type': 'text/event-stream' }, body: `retry: 2000\n\n${cut.join('\n\n')}\n\n` });
    } else {
      resumedWith = route.request().headers()['last-event-id'] || '';
      await route.continue();
    }
  });
  await page.getByRole('navigation').getByRole('link', { name: 'Deployments', exact: true }).click();
  const deps = page.locator('#view-deployments');
  const row = deps.locator(`#deployments-body tr[data-id="${depId}"]`);
  await row.waitFor();
  eq(await row.getAttribute('data-status'), 'succeeded', 'the deployment is listed as succeeded');
  await row.getByRole('button', { name: /^Open log/ }).click();
  const dlog = deps.locator('#deployment-log');
  await dlog.getByText(/^done: succeeded/).waitFor({ timeout: 30000 });
  eq(resumedWith, String(keptId), 'the page resumed with Last-Event-ID after the drop');
  eq(await dlog.getAttribute('data-events'), String(fullEvents), 'the replay shows every event once');
  check(await dlog.getByText(/reconnecting after event/).isVisible(), 'the drop is noted in the log');
  await page.unroute(`**/api/v1/deployments/${depId}/events`);
  await row.getByRole('button', { name: /^Restart/ }).click();
  await deps.locator('#deployments-msg').filter({ hasText: /Restart web: 2 of 2 servers ok/ }).waitFor();
  // Deleting asks first; answered Yes, the code app goes from its server.
  const siteRow = deps.locator(`#deployments-body tr[data-id="${out.code_deployment_id}"]`);
  confirmYes = true;
  await siteRow.getByRole('button', { name: /^Delete/ }).click();
  await siteRow.waitFor({ state: 'detached' });
  confirmYes = false;
  check(/^Delete deployment \d+ of site\?/.test(dialogs[dialogs.length - 1] || ''), `deleting a deployment asks first (${dialogs})`);

  // ---- Cancel: a deploy to a new server, held up by a slowed-down cloud (its droplet takes 4 s
  // to be active), is canceled from the page with the id of its first event while the droplet
  // boots; the log says the server stays and ends with done, failed: canceled.
  step('cancel');
  await simFaults({ slow_actions: 4 });
  await page.getByRole('navigation').getByRole('link', { name: 'Deploy', exact: true }).click();
  await deploy.locator('#deploy-servers option').nth(1).waitFor({ state: 'attached' });
  await deploy.getByLabel('Name', { exact: true }).fill('slow');
  await deploy.getByLabel('Port', { exact: true }).fill('8084');
  await deploy.getByLabel('Source', { exact: true }).selectOption('image');
  await deploy.getByLabel('Target servers', { exact: true }).selectOption([]);
  await deploy.getByLabel('New servers', { exact: true }).fill('1');
  await deploy.getByRole('button', { name: 'Deploy', exact: true }).click();
  await deploy.locator('#deploy-rows li[data-step="provisioning"]').waitFor();
  const cancelBtn = deploy.getByRole('button', { name: 'Cancel deploy' });
  check(await cancelBtn.isEnabled(), 'cancel is on while the deploy runs');
  await cancelBtn.click();
  await log.getByText(/^done: /).waitFor({ timeout: 30000 });
  const done3 = await log.getByText(/^done: /).textContent();
  check(/^done: failed: canceled/.test(done3), `the canceled deploy ends so (${done3})`);
  check(/will keep booting and stay listed under Servers/.test(await log.textContent()), 'the log says the new server stays');
  await simFaults({ slow_actions: 1 });

  // ---- An expired token sends the page back to the login; logging out clears the token.
  step('logout');
  await page.evaluate(() => sessionStorage.setItem('deploy-infra.token', '0'.repeat(64)));
  await page.reload();
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
  check(await page.locator('#login-error').filter({ hasText: /session has ended/ }).isVisible(), 'a 401 brings back the login');
  await page.getByLabel('Username', { exact: true }).fill('admin');
  await page.getByLabel('Password', { exact: true }).fill(ADMIN_PW);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
  check(await page.evaluate(() => !sessionStorage.getItem('deploy-infra.token')), 'logging out forgets the token');

  const unexpected = pageErrors.filter((e) => !expected401(e));
  eq(unexpected.join(' | '), '', 'no script errors or CSP violations in the page');
} catch (e) {
  fail(`${e.message.split('\n')[0]}`);
  console.log(e.stack);
  try {
    await page.screenshot({ path: `${OUT}/failure.png`, fullPage: true });
  } catch (_) { /* the page may be gone */ }
} finally {
  writeFileSync(`${OUT}/browser.json`, JSON.stringify(out));
  await browser.close().catch(() => {});
  clearTimeout(watchdog);
  step('closed the browser');
}
console.log(`checks: ${checks}`);
process.exit(failures ? 1 : 0);
