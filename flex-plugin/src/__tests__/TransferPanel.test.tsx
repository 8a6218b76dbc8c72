import React from 'react';
import { act, fireEvent, render, screen, waitFor } from '@testing-library/react';

import TransferPanel from '../components/TransferPanel';
import { ExpertHub, MaxSummary } from '../expertHub';

const experts = {
  areas: ['bridal', 'watches'],
  experts: [
    { identity: 'ann@example.com', name: 'Ann Lee', areas: ['watches'] },
    { identity: 'bob@example.com', name: 'Bob Stone', areas: ['bridal'] },
    { identity: 'chloe@example.com', name: 'Chloe Dubois', areas: ['watches', 'bridal'] },
  ],
};

type Answer = { status: number; body?: any } | 'network' | Promise<any>;

// fakeFetch plays Expert Hub: GET /experts answers the list, each POST
// /handoff takes the next answer. It records every request.
function fakeFetch(handoffAnswers: Answer[]) {
  const calls: { url: string; init: any; body: any }[] = [];
  const fn = jest.fn(async (url: string, init?: any) => {
    calls.push({ url, init, body: init && init.body ? JSON.parse(init.body) : undefined });
    let a: Answer = { status: 200, body: experts };
    if (url.endsWith('/handoff')) {
      a = handoffAnswers.shift() || { status: 500 };
    }
    if (a === 'network') {
      throw new TypeError('Failed to fetch');
    }
    const r = await a;
    return { ok: r.status >= 200 && r.status < 300, status: r.status, json: async () => r.body || {} } as any;
  });
  return { fn, calls, handoffs: () => calls.filter((c) => c.url.endsWith('/handoff')) };
}

const done = (n = 1) => ({
  status: 200,
  body: { handoff_id: `${sid}-transfer-${n}`, conversation_sid: 'CH00000000000000000000000000000001', status: 'done', expert: { identity: 'ann@example.com', name: 'Ann Lee' } },
});

function mount(f: ReturnType<typeof fakeFetch>, customer: any = { customer_id: 'cust-1' }) {
  const hub = new ExpertHub('https://hub.example.com/', () => 'flex-token', f.fn);
  return render(<TransferPanel hub={hub} taskSid={sid} customer={customer} />);
}

async function ready() {
  await screen.findByRole('option', { name: 'watches' });
}

// Each test has a task of its own: the counters outlive a test in the
// module's memory as they outlive a page in localStorage.
let seq = 0;
let sid = '';
beforeEach(() => {
  sid = `WT${++seq}`;
});

test('lists the areas and, for the chosen area, its experts by display name', async () => {
  const f = fakeFetch([]);
  mount(f);
  await ready();
  expect(f.calls[0].url).toBe('https://hub.example.com/experts');
  expect(f.calls[0].init.headers['X-Flex-JWE']).toBe('flex-token');
  const expert = screen.getByLabelText('Expert') as HTMLSelectElement;
  const names = () => Array.from(expert.options).map((o) => o.textContent);
  expect(names()).toEqual(['First available', 'Ann Lee', 'Bob Stone', 'Chloe Dubois']);
  fireEvent.change(screen.getByLabelText('Expertise area'), { target: { value: 'watches' } });
  expect(names()).toEqual(['First available', 'Ann Lee', 'Chloe Dubois']);
  expect(expert.value).toBe('');
});

test('counts the summary and refuses one over the bound', async () => {
  const f = fakeFetch([]);
  mount(f);
  await ready();
  const summary = screen.getByLabelText(/Summary/);
  fireEvent.change(summary, { target: { value: 'Strap broken ⌚' } });
  expect(screen.getByText(`14/${MaxSummary}`)).toBeTruthy();
  fireEvent.change(summary, { target: { value: 'x'.repeat(MaxSummary + 1) }});
  expect(screen.getByText(`${MaxSummary + 1}/${MaxSummary}`)).toBeTruthy();
  expect(summary.getAttribute('aria-invalid')).toBe('true');
  const transfer = screen.getByRole('button', { name: 'Transfer' }) as HTMLButtonElement;
  expect(transfer.disabled).toBe(true);
  fireEvent.click(transfer);
  expect(f.handoffs()).toHaveLength(0);
});

test('a double click sends one handoff, with one id, and shows the outcome', async () => {
  let answer: (v: any) => void = () => undefined;
  const f = fakeFetch([new Promise((r) => (answer = r))]);
  mount(f);
  await ready();
  fireEvent.change(screen.getByLabelText('Expertise area'), { target: { value: 'watches' } });
  fireEvent.change(screen.getByLabelText('Expert'), { target: { value: 'ann@example.com' } });
  fireEvent.change(screen.getByLabelText(/Summary/), { target: { value: 'Strap broken' } });
  const transfer = screen.getByRole('button', { name: 'Transfer' }) as HTMLButtonElement;
  fireEvent.click(transfer);
  fireEvent.click(transfer);
  // Sending: the controls are disabled and a spinner says so.
  expect(transfer.disabled).toBe(true);
  expect(screen.getByRole('status').textContent).toContain('Transferring');
  await act(async () => answer(done()));
  expect(f.handoffs()).toHaveLength(1);
  expect(f.handoffs()[0].url).toBe('https://hub.example.com/handoff');
  expect(f.handoffs()[0].body).toEqual({
    Token: 'flex-token',
    handoff_id: `${sid}-transfer-1`,
    customer_id: 'cust-1',
    worker: 'ann@example.com',
    summary: 'Strap broken',
  });
  const result = await screen.findByTestId('transfer-result');
  expect(result.textContent).toContain('Ann Lee');
  expect(result.textContent).toContain('CH00000000000000000000000000000001');
});

test('first available of an area sends the area, an address customer sends the address', async () => {
  const f = fakeFetch([{ status: 202, body: { handoff_id: `${sid}-transfer-1`, conversation_sid: 'CH2', status: 'queued' } }]);
  mount(f, { address: '+447700900123' });
  await ready();
  fireEvent.change(screen.getByLabelText('Expertise area'), { target: { value: 'bridal' } });
  fireEvent.click(screen.getByRole('button', { name: 'Transfer' }));
  const result = await screen.findByTestId('transfer-result');
  expect(f.handoffs()[0].body).toEqual({ Token: 'flex-token', handoff_id: `${sid}-transfer-1`, address: '+447700900123', area: 'bridal' });
  expect(result.textContent).toContain('Queued');
  expect(result.textContent).toContain('CH2');
});

test.each([
  [400, /malformed/],
  [401, /sign in again/],
  [403, /role/],
  [404, /does not know this customer/],
  [409, /already sent with other choices/],
  [413, /too long/],
  [422, /not an onsite worker/],
  [500, /HTTP 500/],
  ['network', /could not be reached/],
] as [number | 'network', RegExp][])('answer %s is shown in words', async (status, words) => {
  const f = fakeFetch([status === 'network' ? 'network' : { status, body: { error: 'the reason' } }]);
  mount(f);
  await ready();
  fireEvent.click(screen.getByRole('button', { name: 'Transfer' }));
  const err = await screen.findByTestId('transfer-error');
  expect(err.getAttribute('role')).toBe('alert');
  expect(err.textContent).toMatch(words);
  if (status !== 'network') {
    expect(err.textContent).toContain('the reason');
  }
  const again = screen.getByRole('button', { name: /transfer/i }) as HTMLButtonElement;
  expect(again.disabled).toBe(false);
  // No answer for good: the retry must be the same handoff, so the
  // choices are locked; a refusal leaves them free.
  const terminal = status !== 'network' && status < 500;
  expect(again.textContent).toBe(terminal ? 'Transfer' : 'Retry transfer');
  expect((screen.getByLabelText('Expertise area') as HTMLSelectElement).disabled).toBe(!terminal);
});

test('a retry after no answer or a server error reuses the id; after a terminal answer the next transfer gets a new one', async () => {
  const f = fakeFetch(['network', { status: 503 }, done(1), { status: 404, body: { error: 'unknown customer' } }, done(3)]);
  mount(f);
  await ready();
  const transfer = screen.getByRole('button', { name: /transfer/i });
  fireEvent.change(screen.getByLabelText('Expertise area'), { target: { value: 'watches' } });
  for (let i = 0; i < 5; i++) {
    fireEvent.click(transfer);
    await waitFor(() => expect(f.handoffs()).toHaveLength(i + 1));
    await waitFor(() => expect((transfer as HTMLButtonElement).disabled).toBe(false));
  }
  expect(f.handoffs().map((c) => c.body.handoff_id)).toEqual([
    `${sid}-transfer-1`,
    `${sid}-transfer-1`,
    `${sid}-transfer-1`,
    `${sid}-transfer-2`,
    `${sid}-transfer-3`,
  ]);
  // The retries resent the first attempt unchanged.
  expect(f.handoffs()[1].body).toEqual(f.handoffs()[0].body);
  expect(f.handoffs()[2].body).toEqual(f.handoffs()[0].body);
});

test('the counter survives a reload of the page', async () => {
  const f = fakeFetch([done(1)]);
  const first = mount(f);
  await ready();
  fireEvent.click(screen.getByRole('button', { name: 'Transfer' }));
  await screen.findByTestId('transfer-result');
  first.unmount();
  jest.resetModules();
  // A new page: the module's memory is gone, localStorage is not.
  const Panel = require('../components/TransferPanel').default;
  const Hub = require('../expertHub').ExpertHub;
  const g = fakeFetch([done(2)]);
  render(<Panel hub={new Hub('https://hub.example.com', () => 't', g.fn)} taskSid={sid} customer={{ customer_id: 'cust-1' }} />);
  await ready();
  fireEvent.click(screen.getByRole('button', { name: 'Transfer' }));
  await waitFor(() => expect(g.handoffs()).toHaveLength(1));
  expect(g.handoffs()[0].body.handoff_id).toBe(`${sid}-transfer-2`);
});

test('an experts list that fails to load is said, and Transfer stays off', async () => {
  const f = fakeFetch([]);
  f.fn.mockImplementationOnce(async () => ({ ok: false, status: 403, json: async () => ({ error: 'roles' }) }) as any);
  mount(f);
  const alert = await screen.findByRole('alert');
  expect(alert.textContent).toMatch(/Could not load the experts/);
  expect((screen.getByRole('button', { name: 'Transfer' }) as HTMLButtonElement).disabled).toBe(true);
});

test('an unanswered transfer is resumed, unchanged, after the panel is closed', async () => {
  const f = fakeFetch(['network', done(1)]);
  const first = mount(f);
  await ready();
  fireEvent.change(screen.getByLabelText('Expertise area'), { target: { value: 'watches' } });
  fireEvent.change(screen.getByLabelText('Expert'), { target: { value: 'chloe@example.com' } });
  fireEvent.change(screen.getByLabelText(/Summary/), { target: { value: 'Strap' } });
  fireEvent.click(screen.getByRole('button', { name: 'Transfer' }));
  await screen.findByRole('button', { name: 'Retry transfer' });
  first.unmount();

  mount(f);
  await ready();
  expect((screen.getByLabelText('Expert') as HTMLSelectElement).value).toBe('chloe@example.com');
  expect((screen.getByLabelText('Expertise area') as HTMLSelectElement).disabled).toBe(true);
  fireEvent.click(screen.getByRole('button', { name: 'Retry transfer' }));
  await screen.findByTestId('transfer-result');
  expect(f.handoffs()).toHaveLength(2);
  expect(f.handoffs()[1].body).toEqual(f.handoffs()[0].body);
  expect(f.handoffs()[1].body.worker).toBe('chloe@example.com');
});
