#!/usr/bin/env node
// End-to-end test of the plugin in headless Chromium (Debian's chromium,
// driven by playwright-core; nothing is downloaded). It builds the plugin
// with its own build (flex-plugin build) and the sandbox
// (go build ./cmd/experthub), starts the sandbox with no Twilio
// credentials, serves the harness page (harness/: a stub of the Flex UI
// that loads the plugin's bundle as Flex does), and, as the sandbox's
// Flex agent: opens "Transfer to onsite expert", picks an area, writes a
// summary, double-clicks Transfer, and checks through the sandbox that
// the Frontline conversation got the expert. It saves a screenshot to
// docs/flex-plugin.png.
//
// Settings (environment): CHROMIUM (default /usr/bin/chromium),
// EXPERTHUB_BIN (a built cmd/experthub: skips go build), SKIP_BUILD=1
// (use build/ as it is).
'use strict';

const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const pluginDir = path.resolve(__dirname, '..');
const repoDir = path.resolve(pluginDir, '..');
const screenshot = path.join(repoDir, 'docs', 'flex-plugin.png');
const bundle = 'plugin-expert-hub-transfer.js';
const area = 'watches';
const customer = { from: '+33679500001', name: 'Maria Sanchez', channelType: 'sms' };
// A fixed task SID: each run has a sandbox of its own, and the screenshot
// stays the same.
const taskSid = 'WT0123456789abcdef0123456789abcdef';

const started = [];
let tmp = '';

function log(...a) {
  console.log('e2e:', ...a);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function assert(cond, msg) {
  if (!cond) {
    throw new Error('assertion failed: ' + msg);
  }
}

async function waitFor(what, fn, ms = 120000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) {
        return v;
      }
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? ': ' + last.message : ''}`);
}

function buildPlugin() {
  if (process.env.SKIP_BUILD === '1' && fs.existsSync(path.join(pluginDir, 'build', bundle))) {
    return;
  }
  log('building the plugin (flex-plugin build)');
  execFileSync(path.join(pluginDir, 'node_modules', '.bin', 'flex-plugin'), ['build'], {
    cwd: pluginDir,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, CI: 'true' },
  });
}

function buildSandbox() {
  if (process.env.EXPERTHUB_BIN) {
    return process.env.EXPERTHUB_BIN;
  }
  const bin = path.join(tmp, 'experthub');
  log('building the sandbox (go build ./cmd/experthub)');
  execFileSync('go', ['build', '-o', bin, './cmd/experthub'], { cwd: repoDir, stdio: 'inherit' });
  return bin;
}

// startSandbox runs Expert Hub with no Twilio credentials and no
// Firestore: the sandbox, on an in-memory cache.
function startSandbox(bin, port, sandboxPort) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(TWILIO_|FLEX_|FRONTLINE_|HANDOFF_|FIRESTORE_|GOOGLE_|STRAPI_|PUBLIC_BASE_URL)/.test(k)) {
      env[k] = v;
    }
  }
  Object.assign(env, { PORT: String(port), SANDBOX_PORT: String(sandboxPort) });
  const out = fs.openSync(path.join(tmp, 'experthub.log'), 'w');
  const p = spawn(bin, [], { cwd: repoDir, env, stdio: ['ignore', out, out] });
  started.push(p);
  p.on('exit', (code) => {
    p.exited = true;
    if (code) {
      log(`experthub exited with ${code}`);
    }
  });
  return p;
}

// serveHarness serves the harness page, the plugin's build and React's
// UMD builds (which Flex provides to plugins) on 127.0.0.1.
function serveHarness(port) {
  const files = {
    '/': path.join(pluginDir, 'harness', 'index.html'),
    '/flex-stub.js': path.join(pluginDir, 'harness', 'flex-stub.js'),
    [`/build/${bundle}`]: path.join(pluginDir, 'build', bundle),
    '/vendor/react.production.min.js': require.resolve('react/umd/react.production.min.js', { paths: [pluginDir] }),
    '/vendor/react-dom.production.min.js': require.resolve('react-dom/umd/react-dom.production.min.js', { paths: [pluginDir] }),
  };
  const srv = http.createServer((req, res) => {
    const file = files[new URL(req.url, 'http://x').pathname];
    if (req.url === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': file.endsWith('.html') ? 'text/html' : 'text/javascript' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => srv.listen(port, '127.0.0.1', () => resolve(srv)));
}

async function getJSON(url, headers) {
  const r = await fetch(url, { headers });
  if (!r.ok) {
    throw new Error(`${url}: HTTP ${r.status} ${await r.text()}`);
  }
  return r.json();
}

async function main() {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flex-plugin-e2e-'));
  buildPlugin();
  const bin = buildSandbox();
  const [port, sandboxPort, harnessPort] = [await freePort(), await freePort(), await freePort()];
  const hub = `http://localhost:${port}`;
  const sandbox = `http://127.0.0.1:${sandboxPort}`;
  const sb = startSandbox(bin, port, sandboxPort);
  const { token } = await waitFor('the sandbox', () => !sb.exited && getJSON(`${sandbox}/sandbox/flex-token`));
  const experts = await waitFor('Expert Hub', () => !sb.exited && getJSON(`${hub}/experts`, { 'X-Flex-JWE': token }));
  log('experts:', JSON.stringify(experts));
  const srv = await serveHarness(harnessPort);
  const origin = `http://127.0.0.1:${harnessPort}`;

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 900, height: 560 } });
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => log(`page ${m.type()}: ${m.text()}`));
    // Every request the page makes, but the harness's own: the plugin's
    // go to Expert Hub only.
    const requests = [];
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.origin !== origin && !(u.origin === sandbox && u.pathname === '/sandbox/flex-token')) {
        requests.push({ method: r.method(), url: r.url() });
      }
    });
    const q = new URLSearchParams({ hub, sandbox, task: taskSid, attributes: JSON.stringify(customer) });
    await page.goto(`${origin}/?${q}`);
    await page.waitForFunction(() => window.harnessReady || window.harnessError, null, { timeout: 30000 });
    assert(!(await page.evaluate(() => window.harnessError)), 'harness: ' + (await page.evaluate(() => window.harnessError)));

    // The agent opens the panel from the keyboard.
    const open = page.getByRole('button', { name: 'Transfer to onsite expert' });
    await open.focus();
    await page.keyboard.press('Enter');
    const areaSelect = page.getByLabel('Expertise area', { exact: true });
    await page.getByRole('option', { name: area }).waitFor({ state: 'attached' });
    await areaSelect.selectOption(area);
    const names = await page.getByLabel('Expert', { exact: true }).locator('option').allTextContents();
    const want = ['First available', ...experts.experts.filter((x) => x.areas.includes(area)).map((x) => x.name)];
    assert(JSON.stringify(names) === JSON.stringify(want), `experts of ${area}: ${names} want ${want}`);
    await page.getByLabel(/Summary/).fill('Watch repair: the strap is broken. She prefers to come to the shop.');

    const handoff = page.waitForResponse((r) => r.url() === `${hub}/handoff` && r.request().method() === 'POST');
    await page.getByRole('button', { name: 'Transfer', exact: true }).dblclick();
    const answer = await (await handoff).json();
    log('handoff answered:', JSON.stringify(answer));
    const result = page.getByTestId('transfer-result');
    await result.waitFor({ timeout: 30000 });
    const text = await result.textContent();

    assert(answer.handoff_id === `${taskSid}-transfer-1`, `handoff_id ${answer.handoff_id}`);
    assert(answer.status === 'done' && answer.expert, `status ${answer.status}`);
    const expert = experts.experts.find((x) => x.identity === answer.expert.identity);
    assert(expert && expert.areas.includes(area), `expert ${answer.expert.identity} is not one of ${area}`);
    assert(text.includes(expert.name) && text.includes(answer.conversation_sid), `result shown: ${text}`);

    // The sandbox's Frontline conversation got the expert.
    const conv = await getJSON(`${sandbox}/sandbox/conversations/${answer.conversation_sid}`);
    const identities = (conv.participants || []).map((p) => p.identity).filter(Boolean);
    assert(identities.includes(expert.identity), `participants ${identities} lack ${expert.identity}`);
    const addresses = (conv.participants || []).map((p) => p.address).filter(Boolean);
    assert(addresses.includes(customer.from), `participants ${addresses} lack the customer`);
    const attrs = JSON.parse(conv.attributes || '{}');
    assert(attrs.handoff && attrs.handoff.handoff_id === answer.handoff_id, `handoff attributes ${conv.attributes}`);

    // A double click is one handoff; the browser spoke to Expert Hub only.
    const posts = requests.filter((r) => r.method === 'POST');
    assert(posts.length === 1, `handoff requests: ${JSON.stringify(posts)}`);
    const elsewhere = requests.filter((r) => !r.url.startsWith(hub + '/'));
    assert(elsewhere.length === 0, `requests outside Expert Hub: ${JSON.stringify(elsewhere)}`);
    assert(errors.length === 0, `page errors: ${errors}`);

    await page.screenshot({ path: screenshot });

    // A customer Expert Hub does not know: the agent reads why.
    const unknown = await browser.newPage();
    const uq = new URLSearchParams({ hub, sandbox, task: taskSid.replace(/.$/, '0'), attributes: JSON.stringify({ from: '+15550100199' }) });
    await unknown.goto(`${origin}/?${uq}`);
    await unknown.waitForFunction(() => window.harnessReady || window.harnessError, null, { timeout: 30000 });
    await unknown.getByRole('button', { name: 'Transfer to onsite expert' }).click();
    await unknown.getByRole('option', { name: area }).waitFor({ state: 'attached' });
    await unknown.getByRole('button', { name: 'Transfer', exact: true }).click();
    const alert = await unknown.getByTestId('transfer-error').textContent({ timeout: 30000 });
    assert(/does not know this customer/.test(alert), `unknown customer: ${alert}`);
    log('unknown customer shown:', alert);
    log(`ok: ${expert.name} got ${answer.conversation_sid}; screenshot ${path.relative(repoDir, screenshot)}`);
  } finally {
    await browser.close();
    srv.close();
  }
}

function stop() {
  for (const p of started) {
    if (!p.exited) {
      p.kill('SIGTERM');
    }
  }
}

main().then(
  () => {
    stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  },
  (e) => {
    console.error('e2e: FAILED:', e.message);
    const logFile = tmp && path.join(tmp, 'experthub.log');
    if (logFile && fs.existsSync(logFile)) {
      console.error('--- experthub log (tail) ---\n' + fs.readFileSync(logFile, 'utf8').split('\n').slice(-40).join('\n'));
    }
    stop();
    process.exitCode = 1;
  },
);
