import React from 'react';

import { ExpertHubError, Experts, HandoffResult, Hub, MaxSummary, errorWords } from '../expertHub';
import { Customer } from '../customer';
import { advance, begin, pending } from '../handoffIds';

export type TransferPanelProps = {
  hub: Hub;
  taskSid: string;
  customer: Customer;
  flexConversation?: string;
  onClose?: () => void;
};

type State = {
  experts: Experts | null;
  loadError: string;
  area: string;
  worker: string; // '' is the first available expert
  summary: string;
  sending: boolean;
  error: string;
  result: HandoffResult | null;
  // unanswered: the last attempt got no answer for good (network, 5xx),
  // so it may have taken effect. The choices stay locked until an answer:
  // the retry resends the same handoff, same id, same choices (the id
  // with other choices would be a 409).
  unanswered: boolean;
};

// Summary length as handoff counts it: characters (code points), not
// UTF-16 units.
function chars(s: string): number {
  return Array.from(s).length;
}

const firstAvailable = '';

const styles: Record<string, React.CSSProperties> = {
  panel: { display: 'flex', flexDirection: 'column', gap: 8, padding: 12, minWidth: 280, fontSize: 14 },
  field: { display: 'flex', flexDirection: 'column', gap: 2 },
  counter: { alignSelf: 'flex-end', fontSize: 12 },
  error: { color: '#b00020' },
  row: { display: 'flex', gap: 8, alignItems: 'center' },
  spinner: {
    display: 'inline-block',
    width: 14,
    height: 14,
    border: '2px solid #ccc',
    borderTopColor: '#1a73e8',
    borderRadius: '50%',
    animation: 'expert-hub-spin 0.8s linear infinite',
  },
};

// TransferPanel hands the task's customer to an onsite expert through
// Expert Hub's handoff: an expertise area, one of its available experts
// or the first available, an optional summary.
export default class TransferPanel extends React.Component<TransferPanelProps, State> {
  state: State = {
    experts: null,
    loadError: '',
    area: '',
    worker: firstAvailable,
    summary: '',
    sending: false,
    error: '',
    result: null,
    unanswered: false,
  };

  // inFlight guards against a second click landing before React has
  // re-rendered the disabled button.
  private inFlight = false;
  private unmounted = false;

  componentDidMount(): void {
    // An attempt that got no answer (panel closed, page reloaded) is
    // resumed as it was: only a retry of it is safe.
    const p = pending(this.props.taskSid);
    if (p) {
      this.setState({ ...p, unanswered: true, error: 'The last transfer got no answer. Retry resends it unchanged.' });
    }
    this.load();
  }

  componentWillUnmount(): void {
    this.unmounted = true;
  }

  private async load(): Promise<void> {
    try {
      const experts = await this.props.hub.experts();
      if (!this.unmounted) {
        this.setState({ experts, loadError: '' });
      }
    } catch (e) {
      if (!this.unmounted) {
        this.setState({ loadError: e instanceof Error ? e.message : String(e) });
      }
    }
  }

  private transfer = async (ev?: React.FormEvent): Promise<void> => {
    if (ev) {
      ev.preventDefault();
    }
    if (this.inFlight || chars(this.state.summary) > MaxSummary) {
      return;
    }
    this.inFlight = true;
    this.setState({ sending: true, error: '', result: null });
    const { taskSid, customer, flexConversation } = this.props;
    const { area, worker, summary } = this.state;
    const handoffId = begin(taskSid, { area, worker, summary });
    try {
      const result = await this.props.hub.handoff({
        handoff_id: handoffId,
        customer_id: customer.customer_id,
        address: customer.customer_id ? undefined : customer.address,
        worker: worker || undefined,
        area: worker ? undefined : area || undefined,
        summary: summary.trim() || undefined,
        flex_conversation_sid: flexConversation,
      });
      advance(taskSid);
      this.finish({ result, unanswered: false });
    } catch (e) {
      const err = e instanceof ExpertHubError ? e : new ExpertHubError(0, '');
      if (err.terminal) {
        advance(taskSid);
      }
      this.finish({ error: errorWords(err.status, err.detail), unanswered: !err.terminal });
    }
  };

  private finish(s: Partial<State>): void {
    this.inFlight = false;
    if (!this.unmounted) {
      this.setState({ ...(s as State), sending: false });
    }
  }

  private expertsOfArea() {
    const { experts, area } = this.state;
    if (!experts) {
      return [];
    }
    return area ? experts.experts.filter((x) => x.areas.indexOf(area) >= 0) : experts.experts;
  }

  render(): React.ReactNode {
    const { experts, loadError, area, worker, summary, sending, error, result, unanswered } = this.state;
    const locked = sending || unanswered;
    const id = `expert-hub-${this.props.taskSid}`;
    const n = chars(summary);
    const tooLong = n > MaxSummary;
    return (
      <form style={styles.panel} onSubmit={this.transfer} aria-label="Transfer to onsite expert" data-testid="transfer-panel">
        <style>{'@keyframes expert-hub-spin { to { transform: rotate(360deg); } }'}</style>
        {loadError && (
          <div role="alert" style={styles.error}>
            Could not load the experts: {loadError}
          </div>
        )}
        <div style={styles.field}>
          <label htmlFor={`${id}-area`}>Expertise area</label>
          <select
            id={`${id}-area`}
            value={area}
            disabled={locked || !experts}
            onChange={(e) => this.setState({ area: e.target.value, worker: firstAvailable })}
          >
            <option value="">Any area</option>
            {(experts ? experts.areas : []).map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </div>
        <div style={styles.field}>
          <label htmlFor={`${id}-expert`}>Expert</label>
          <select
            id={`${id}-expert`}
            value={worker}
            disabled={locked || !experts}
            onChange={(e) => this.setState({ worker: e.target.value })}
          >
            <option value={firstAvailable}>First available</option>
            {this.expertsOfArea().map((x) => (
              <option key={x.identity} value={x.identity}>
                {x.name || x.identity}
              </option>
            ))}
          </select>
        </div>
        <div style={styles.field}>
          <label htmlFor={`${id}-summary`}>Summary for the expert (optional)</label>
          <textarea
            id={`${id}-summary`}
            rows={4}
            value={summary}
            disabled={locked}
            aria-describedby={`${id}-counter`}
            aria-invalid={tooLong}
            onChange={(e) => this.setState({ summary: e.target.value })}
          />
          <span id={`${id}-counter`} style={{ ...styles.counter, ...(tooLong ? styles.error : {}) }}>
            {n}/{MaxSummary}
          </span>
        </div>
        <div style={styles.row}>
          <button type="submit" disabled={sending || tooLong || !experts} aria-busy={sending}>
            {unanswered ? 'Retry transfer' : 'Transfer'}
          </button>
          {this.props.onClose && (
            <button type="button" onClick={this.props.onClose}>
              Close
            </button>
          )}
          {sending && (
            <span role="status" style={styles.row}>
              <span style={styles.spinner} aria-hidden="true" />
              Transferring…
            </span>
          )}
        </div>
        {error && (
          <div role="alert" style={styles.error} data-testid="transfer-error">
            {error}
          </div>
        )}
        {result && (
          <div role="status" data-testid="transfer-result">
            {result.status === 'done'
              ? `Transferred to ${result.expert ? result.expert.name || result.expert.identity : 'an expert'}`
              : 'Queued: the first available expert gets the customer as soon as one is free'}{' '}
            (conversation {result.conversation_sid}).
          </div>
        )}
      </form>
    );
  }
}
