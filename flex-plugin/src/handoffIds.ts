// handoff_id of a task's transfer: the task SID, "-transfer-" and a
// counter. The counter moves on only after a terminal answer, so a double
// click, a retry after a timeout or a reload in between resends the same
// id and Expert Hub does the handoff once. Until then the attempt's
// choices are kept too: a retry with the same id must carry the same
// customer, expert and area (other choices would be a 409). Both are kept
// in the browser's localStorage (the only place the plugin writes;
// nothing goes to Twilio), so a closed panel or a reloaded page resumes
// the attempt, and never reuses an id whose handoff is done.

export type Choices = { area: string; worker: string; summary: string };

const prefix = 'expertHubTransfer:';

type KV = { getItem(k: string): string | null; setItem(k: string, v: string): void; removeItem(k: string): void };

function storage(): KV | null {
  try {
    return window.localStorage;
  } catch (e) {
    return null;
  }
}

type Entry = { n: number; pending: Choices | null };

// memory holds the same for a browser that refuses storage.
const memory = new Map<string, Entry>();

function read(taskSid: string): Entry {
  const s = storage();
  let e: Entry = { n: 1, pending: null };
  try {
    const v = s ? JSON.parse(s.getItem(prefix + taskSid) || 'null') : null;
    if (v && typeof v.n === 'number' && v.n > 0) {
      e = { n: v.n, pending: v.pending || null };
    }
  } catch (err) {
    // Not ours, or damaged: start over from memory.
  }
  const m = memory.get(taskSid);
  return m && m.n > e.n ? m : e;
}

function write(taskSid: string, e: Entry): void {
  memory.set(taskSid, e);
  const s = storage();
  if (s) {
    try {
      s.setItem(prefix + taskSid, JSON.stringify(e));
    } catch (err) {
      // Storage full or refused: memory still holds it for this page.
    }
  }
}

// pending is the choices of the current id's attempt that got no
// terminal answer, if any.
export function pending(taskSid: string): Choices | null {
  return read(taskSid).pending;
}

// begin records the choices of an attempt before it is sent, and
// returns its handoff_id.
export function begin(taskSid: string, c: Choices): string {
  const n = read(taskSid).n;
  write(taskSid, { n, pending: c });
  return `${taskSid}-transfer-${n}`;
}

// advance is called after a terminal answer for the current id.
export function advance(taskSid: string): void {
  write(taskSid, { n: read(taskSid).n + 1, pending: null });
}
