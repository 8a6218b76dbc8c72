import { customerOf, flexConversationOf } from '../customer';
import { expertHubUrl } from '../config';
import { functionUrl } from '../expertHub';

test.each([
  ['Expert Hub task', { customer: { id: 'c1', name: 'Olivia', address: '+447700900123' }, frontline_conversation_sid: 'CH1' }, { customer_id: 'c1', name: 'Olivia' }],
  ['Expert Hub task, no CRM id', { customer: { address: 'whatsapp:+447700900123' } }, { address: 'whatsapp:+447700900123' }],
  ['customer_id', { customer_id: 'c2' }, { customer_id: 'c2' }],
  ['Flex conversation', { from: '+1 555 010 0100', name: 'Sam' }, { address: '+15550100100', name: 'Sam' }],
  ['customerAddress', { customerAddress: '+15550100100' }, { address: '+15550100100' }],
  ['customers.phone', { customers: { phone: '+15550100100' } }, { address: '+15550100100' }],
  ['web chat', { from: 'Customer', name: 'Customer' }, null],
  ['e-mail', { from: 'sam@example.com' }, null],
  ['nothing', undefined, null],
])('%s', (_, attrs, want) => {
  const got = customerOf(attrs);
  expect(got && JSON.parse(JSON.stringify(got))).toEqual(want);
});

test('flexConversationOf takes only a conversation SID', () => {
  expect(flexConversationOf({ conversationSid: 'CH' + '0'.repeat(32) })).toBe('CH' + '0'.repeat(32));
  expect(flexConversationOf({ conversationSid: 'IS123' })).toBeUndefined();
});

test('the Flex configuration wins over the build variable', () => {
  expect(expertHubUrl({ expertHubUrl: 'https://a.example/' }, 'https://b.example')).toBe('https://a.example');
  expect(expertHubUrl({}, 'https://b.example//')).toBe('https://b.example');
  expect(expertHubUrl(undefined, undefined)).toBe('');
});

test.each([
  ['https://europe-west1-p.cloudfunctions.net/eh-production-{function}', 'https://europe-west1-p.cloudfunctions.net/eh-production-handoff'],
  ['https://eh-staging-{function}-abc123-ew.a.run.app', 'https://eh-staging-handoff-abc123-ew.a.run.app'],
  ['http://localhost:8080', 'http://localhost:8080/handoff'],
  ['http://localhost:8080/', 'http://localhost:8080/handoff'],
])('function URL of %s', (base, want) => {
  expect(functionUrl(base, 'handoff')).toBe(want);
});
