// Copy to public/appConfig.js for `twilio flex:plugins:start` (local Flex UI).
// The Expert Hub URL is not set here: see .env.example (FLEX_APP_EXPERT_HUB_URL).
var appConfig = {
  pluginService: {
    enabled: true,
    url: '/plugins',
  },
  logLevel: 'info',
};
