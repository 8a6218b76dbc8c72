// handoff_id of a task's transfer: the task SID, "-transfer-" and a
// counter. The counter moves on only after a terminal answer, so a double
// click, a retry after a timeout or a reload in between resends the same
// id and Expert Hub does the handoff once. It is kept in the browser's
// localStorage (the only place the plugin writes; nothing goes to Twilio),
// so a reload does not reuse an id whose handoff is already done.

const prefix = 'expertHubTransfer:';

type KV = { getItem(k: string): string | null; setItem(k: string, v: string): void };

function storage(): KV | null {
  try {
    return window.localStorage;
  } catch (e) {
    return null;
  }
}

const memory = new Map<string, number>();

function count(taskSid: string): number {
  const s = storage();
  const stored = s ? parseInt(s.getItem(prefix + taskSid) || '', 10) : NaN;
  const n = Number.isFinite(stored) && stored > 0 ? stored : 1;
  return Math.max(n, memory.get(taskSid) || 1);
}

export function currentHandoffId(taskSid: string): string {
  return `${taskSid}-transfer-${count(taskSid)}`;
}

// advance is called after a terminal answer for the current id.
export function advance(taskSid: string): void {
  const n = count(taskSid) + 1;
  memory.set(taskSid, n);
  const s = storage();
  if (s) {
    try {
      s.setItem(prefix + taskSid, String(n));
    } catch (e) {
      // Storage full or refused: memory still holds it for this page.
    }
  }
}
