// Where Expert Hub is: the URL of its functions, with {function} for the
// function's name (see functionUrl). The Flex configuration's ui_attributes.expertHubUrl
// (changed without a new plugin version) wins over FLEX_APP_EXPERT_HUB_URL,
// which the plugin's build reads from .env as the Flex Plugins CLI does
// for every FLEX_APP_ variable.
export function expertHubUrl(uiAttributes: any, env: string | undefined): string {
  const fromFlex = uiAttributes && typeof uiAttributes.expertHubUrl === 'string' ? uiAttributes.expertHubUrl : '';
  return (fromFlex || env || '').trim().replace(/\/+$/, '');
}
