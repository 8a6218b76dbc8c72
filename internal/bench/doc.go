// Package bench measures Expert Hub against the seed tutorial's way of
// doing the same work, side by side in one run: CRM callbacks and address
// lookups (cache vs. log in and download the whole CRM per request), the
// bot turn (parallel vs. sequential Twilio calls), cold start, memory,
// the full sync and throughput; and the queue of conversation work: a
// message's way to the bot's reply done by the webhook or by the queue
// (BenchmarkEndToEnd), and 200 customers asking for an agent at once
// through three instances (BenchmarkBurst); and freshness: a Strapi
// change to the changed CRM answer on the instance its webhook reached
// and on another, and the cost of a miss (BenchmarkFreshness, run with
// -benchtime 10x for ten changes); and the contact center: a Flex user's
// token checked, cached or first used (BenchmarkFlexToken), and the
// flex-events function's answer to a Flex task's end (BenchmarkFlexEvents).
//
// The benchmarks live in this package's test files and use the real
// parts: the Firestore emulator, the handlers behind the webhook
// signature check, twilio-go against the fake Twilio and the Strapi stub
// over HTTP, with injected latency. Run them all and get the table that
// docs/benchmarks.md holds with
//
//	go run ./internal/bench/cmd/benchtable
//
// or, to re-measure some benchmarks and keep the others' results,
//
//	go run ./internal/bench/cmd/benchtable -bench 'EndToEnd|Burst' -merge
//	go run ./internal/bench/cmd/benchtable -bench Freshness -benchtime 10x -merge
//
// A plain `go test -run '^$' -bench . ./internal/bench` runs the small
// sizes only; EXPERTHUB_BENCH_FULL=1 adds 10 000 and 100 000 customers.
// EXPERTHUB_BENCH_STRAPI_LATENCY (default 20ms) and
// EXPERTHUB_BENCH_TWILIO_LATENCY (default 50ms) set the injected latency.
package bench
