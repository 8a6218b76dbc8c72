import * as FlexPlugin from '@twilio/flex-plugin';

import ExpertHubTransferPlugin from './ExpertHubTransferPlugin';

FlexPlugin.loadPlugin(ExpertHubTransferPlugin);
