// The plugin's client of Expert Hub: the only host the browser talks to.
// Both calls carry the agent's own Flex token, which Expert Hub has Twilio
// validate; the plugin holds no secret.

export type Expert = { identity: string; name: string; areas: string[] };
export type Experts = { areas: string[]; experts: Expert[] };

export type HandoffRequest = {
  handoff_id: string;
  customer_id?: string;
  address?: string;
  worker?: string;
  area?: string;
  summary?: string;
  flex_conversation_sid?: string;
};

export type HandoffResult = {
  handoff_id: string;
  conversation_sid: string;
  status: 'done' | 'queued';
  expert?: { identity: string; name: string };
};

// MaxSummary is handoff's bound on the summary, in characters.
export const MaxSummary = 1600;

// ExpertHubError is a failed call. status is the HTTP status, or 0 when
// no answer came (network error, CORS refusal): then nothing says whether
// the handoff took effect, and only a retry with the same handoff_id is
// safe.
export class ExpertHubError extends Error {
  status: number;
  detail: string;

  constructor(status: number, detail: string) {
    // The words a transfer's failure gets are errorWords: a failed read
    // of the experts is no transfer, and has nothing to retry.
    super(detail || (status ? `HTTP ${status}` : 'no answer'));
    this.name = 'ExpertHubError';
    this.status = status;
    this.detail = detail;
  }

  // terminal reports whether Expert Hub answered for good: the handoff
  // either happened or was refused, so the next transfer gets a new id.
  // No answer, a timeout, throttling or a server error is not: the retry
  // reuses the id, so the handoff is done at most once.
  get terminal(): boolean {
    return this.status >= 400 && this.status < 500 && this.status !== 408 && this.status !== 429;
  }
}

const statusWords: Record<number, string> = {
  400: 'Expert Hub refused the request as malformed.',
  401: 'Expert Hub did not accept your Flex session: reload Flex and sign in again.',
  403: 'Your Flex role may not hand customers to experts (agent, supervisor or admin is needed).',
  404: 'Expert Hub does not know this customer.',
  409: 'This transfer was already sent with other choices: check the customer’s conversation before transferring again.',
  413: 'The summary is too long.',
  422: 'The chosen expert is not an onsite worker, or the address is not this customer’s.',
};

// errorWords is what the agent reads about a failure.
export function errorWords(status: number, detail: string): string {
  let words = statusWords[status];
  if (!words) {
    words =
      (status === 0 ? 'Expert Hub could not be reached.' : `Expert Hub failed (HTTP ${status}).`) +
      ' Retry: the same transfer is resent, never doubled.';
  }
  return detail ? `${words} (${detail})` : words;
}

type FetchFn = (input: string, init?: RequestInit) => Promise<Response>;

// functionUrl is the URL of one of Expert Hub's functions: base with
// {function} replaced by its name (deployed functions are named
// eh-<env>-<function>: https://REGION-PROJECT.cloudfunctions.net/eh-production-{function}),
// or, without the placeholder, base/<function> (the local server).
export function functionUrl(base: string, name: string): string {
  return base.indexOf('{function}') >= 0 ? base.split('{function}').join(name) : `${base.replace(/\/+$/, '')}/${name}`;
}

export class ExpertHub {
  private base: string;
  private token: () => string;
  private fetchFn: FetchFn;

  constructor(base: string, token: () => string, fetchFn?: FetchFn) {
    this.base = base;
    this.token = token;
    // fetch is bound to window: called as a method of this object it
    // would throw "Illegal invocation".
    this.fetchFn = fetchFn || ((input, init) => fetch(input, init));
  }

  async experts(): Promise<Experts> {
    const body = await this.call(functionUrl(this.base, 'experts'), {
      method: 'GET',
      headers: { 'X-Flex-JWE': this.token() },
    });
    return {
      areas: Array.isArray(body.areas) ? body.areas : [],
      experts: Array.isArray(body.experts) ? body.experts : [],
    };
  }

  async handoff(req: HandoffRequest): Promise<HandoffResult> {
    return this.call(functionUrl(this.base, 'handoff'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ Token: this.token(), ...req }),
    });
  }

  private async call(url: string, init: RequestInit): Promise<any> {
    let resp: Response;
    try {
      resp = await this.fetchFn(url, { ...init, credentials: 'omit' });
    } catch (e) {
      throw new ExpertHubError(0, '');
    }
    let body: any = {};
    try {
      body = await resp.json();
    } catch (e) {
      // A proxy's or a crash's page: the status says enough.
    }
    if (!resp.ok) {
      throw new ExpertHubError(resp.status, typeof body.error === 'string' ? body.error.slice(0, 300) : '');
    }
    return body;
  }
}

// Hub is what the panel needs of Expert Hub (a double in tests).
export type Hub = Pick<ExpertHub, 'experts' | 'handoff'>;
