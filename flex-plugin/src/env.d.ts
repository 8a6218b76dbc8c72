// The build replaces process.env.FLEX_APP_* with the values in .env
// (Node's own types are left out: their newest syntax is beyond TS 4).
declare const process: { env: { [name: string]: string | undefined } };
