// The Flex Plugins CLI's own Jest preset (what `twilio flex:plugins:test`
// runs), in jsdom. Jest is run directly: `flex-plugin test` outside the
// Twilio CLI hands Jest its internal --run-script flag, which Jest 27
// refuses.
const preset = require('@twilio/flex-plugin-test').default;

module.exports = { ...preset(), testEnvironment: 'jsdom' };
