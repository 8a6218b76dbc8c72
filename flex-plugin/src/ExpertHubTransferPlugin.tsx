import React from 'react';
import * as Flex from '@twilio/flex-ui';
import { FlexPlugin } from '@twilio/flex-plugin';

import TransferButton from './components/TransferButton';
import { expertHubUrl } from './config';
import { ExpertHub } from './expertHub';

const PLUGIN_NAME = 'ExpertHubTransferPlugin';

export default class ExpertHubTransferPlugin extends FlexPlugin {
  constructor() {
    super(PLUGIN_NAME);
  }

  // init adds "Transfer to onsite expert" to the task canvas's header,
  // which hands the button its task.
  async init(flex: typeof Flex, manager: Flex.Manager): Promise<void> {
    const config = manager.serviceConfiguration as any;
    const url = expertHubUrl(config && config.ui_attributes, process.env.FLEX_APP_EXPERT_HUB_URL);
    if (!url) {
      // eslint-disable-next-line no-console
      console.error(`${PLUGIN_NAME}: no Expert Hub URL (FLEX_APP_EXPERT_HUB_URL or ui_attributes.expertHubUrl): the button is off`);
      return;
    }
    // The token is read at each call: Flex renews it while the agent works.
    const hub = new ExpertHub(url, () => manager.user.token);
    flex.TaskCanvasHeader.Content.add(<TransferButton key="expert-hub-transfer" hub={hub} />, { sortOrder: -1 });
  }
}
