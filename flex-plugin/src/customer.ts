// Which customer a Flex task is about, read from its attributes. Expert
// Hub's own tasks (a Frontline conversation handed to Flex) carry
// {"customer": {"id", "name", "address"}} and frontline_conversation_sid;
// Flex's own messaging tasks carry the customer's address in "from"
// (Conversations) or "customerAddress"; a CRM integration may set
// customer_id or customers.phone. The CRM id wins over an address: it is
// what Expert Hub resolves without a lookup.

export type Customer = { customer_id?: string; address?: string; name?: string };

// An SMS number in E.164 or a WhatsApp address: what handoff accepts
// (it normalises and checks again).
const addressPattern = /^(whatsapp:)?\+[1-9][0-9]{6,14}$/;

function str(v: unknown): string {
  return typeof v === 'string' ? v.trim() : '';
}

export function customerOf(attributes: any): Customer | null {
  const a = attributes && typeof attributes === 'object' ? attributes : {};
  const c = a.customer && typeof a.customer === 'object' ? a.customer : {};
  const name = str(c.name) || str(a.name) || undefined;
  const id = str(a.customer_id) || str(c.id);
  if (id) {
    return { customer_id: id, name };
  }
  const candidates = [c.address, a.customerAddress, a.from, a.customers && a.customers.phone];
  for (const v of candidates) {
    const s = str(v).replace(/\s+/g, '');
    if (addressPattern.test(s)) {
      return { address: s, name };
    }
  }
  return null;
}

// flexConversationOf is the Flex conversation of a messaging task
// (Flex UI 2's attributes.conversationSid), which handoff reads the
// transcript from.
export function flexConversationOf(attributes: any): string | undefined {
  const sid = attributes && str(attributes.conversationSid);
  return /^CH[0-9a-f]{32}$/.test(sid) ? sid : undefined;
}
