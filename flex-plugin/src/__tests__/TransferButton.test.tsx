import React from 'react';
import { fireEvent, render, screen } from '@testing-library/react';

import TransferButton from '../components/TransferButton';

const hub = {
  experts: jest.fn(async () => ({ areas: ['watches'], experts: [] })),
  handoff: jest.fn(),
};

test('no button on a task without a customer Expert Hub can name', () => {
  const { container } = render(<TransferButton hub={hub} task={{ taskSid: 'WT1', attributes: { from: 'Web visitor' } }} />);
  expect(container.innerHTML).toBe('');
});

test('the button opens the panel from the keyboard and Escape closes it', async () => {
  render(<TransferButton hub={hub} task={{ taskSid: 'WT1', attributes: { customer: { id: 'cust-1', name: 'Olivia' } } }} />);
  const button = screen.getByRole('button', { name: 'Transfer to onsite expert' });
  expect(button.getAttribute('aria-expanded')).toBe('false');
  button.focus();
  fireEvent.click(button); // Enter or Space on a focused button clicks it
  expect(button.getAttribute('aria-expanded')).toBe('true');
  await screen.findByRole('option', { name: 'watches' });
  const area = screen.getByLabelText('Expertise area');
  area.focus();
  fireEvent.keyDown(area, { key: 'Escape' });
  expect(screen.queryByRole('dialog')).toBeNull();
  expect(document.activeElement).toBe(button);
});
