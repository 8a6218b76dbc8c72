import React from 'react';

import { Hub } from '../expertHub';
import { customerOf, flexConversationOf } from '../customer';
import TransferPanel from './TransferPanel';

// The slice of Flex's ITask the button reads.
export type TaskLike = { taskSid: string; attributes: any };

export type TransferButtonProps = {
  hub: Hub;
  // Flex hands its TaskCanvasHeader's task to the components added to it.
  task?: TaskLike;
};

type State = { open: boolean };

const styles: Record<string, React.CSSProperties> = {
  wrap: { position: 'relative', display: 'inline-block' },
  popover: {
    position: 'absolute',
    right: 0,
    top: '100%',
    zIndex: 10,
    background: '#fff',
    color: '#121c2d',
    border: '1px solid #ccc',
    borderRadius: 4,
    boxShadow: '0 4px 12px rgba(0,0,0,0.15)',
  },
};

// TransferButton shows "Transfer to onsite expert" on a task about a
// customer Expert Hub can name, and opens the transfer panel.
export default class TransferButton extends React.Component<TransferButtonProps, State> {
  state: State = { open: false };
  private button = React.createRef<HTMLButtonElement>();

  private close = () => {
    this.setState({ open: false });
    if (this.button.current) {
      this.button.current.focus();
    }
  };

  private onKeyDown = (e: React.KeyboardEvent) => {
    if (e.key === 'Escape') {
      this.close();
    }
  };

  render(): React.ReactNode {
    const { task, hub } = this.props;
    const customer = task ? customerOf(task.attributes) : null;
    if (!task || !customer) {
      return null;
    }
    const panelId = `expert-hub-panel-${task.taskSid}`;
    return (
      <div style={styles.wrap} onKeyDown={this.onKeyDown}>
        <button
          ref={this.button}
          type="button"
          aria-expanded={this.state.open}
          aria-controls={panelId}
          onClick={() => this.setState({ open: !this.state.open })}
        >
          Transfer to onsite expert
        </button>
        {this.state.open && (
          <div id={panelId} role="dialog" aria-label="Transfer to onsite expert" style={styles.popover}>
            <TransferPanel
              hub={hub}
              taskSid={task.taskSid}
              customer={customer}
              flexConversation={flexConversationOf(task.attributes)}
              onClose={this.close}
            />
          </div>
        )}
      </div>
    );
  }
}
