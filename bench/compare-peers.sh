#!/usr/bin/env bash
# Compare the speed of tcsctl quote verify with two peer verifiers from
# npm, @phala/dcap-qvl (pure JavaScript) and @phala/dcap-qvl-web (Rust
# compiled to WebAssembly), on the same quote, collateral and time.
#
# Usage: bench/compare-peers.sh [SAMPLE_DIR] [BATCH]
#   SAMPLE_DIR  folder with quote.bin, collateral.json and expect
#               (default: the first folder of $TCS_REAL_QUOTES)
#   BATCH       verifications of the quote in one run (default 300)
#
# Needs Go, Node.js (v20 tested) and npm with access to the npm registry.
# The peers are installed into a temporary folder that is removed at exit.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
sample=${1:-}
batch=${2:-300}
if [[ -z "$sample" ]]; then
	if [[ -z "${TCS_REAL_QUOTES:-}" ]]; then
		echo "compare-peers: give a sample folder or set TCS_REAL_QUOTES" >&2
		exit 2
	fi
	sample=$(find "$TCS_REAL_QUOTES" -mindepth 1 -maxdepth 1 -type d | sort | head -n 1)
fi
quote="$sample/quote.bin"
collateral="$sample/collateral.json"
read -r at expected <"$sample/expect"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "sample: $sample (time $at, expected $expected), batch $batch"
echo "installing peers into $work"
(cd "$work" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund \
	@phala/dcap-qvl@0.3.9 @phala/dcap-qvl-web@0.3.3 >/dev/null)

go build -o "$work/tcsctl" "$repo/cmd/tcsctl"

# peer.mjs PEER COUNT: verifies the quote COUNT times in one process and
# prints "status first_ms mean_ms" (mean over all calls).
cat >"$work/peer.mjs" <<'EOF'
import fs from 'node:fs';
import { createRequire } from 'node:module';
const [peer, count, quotePath, collateralPath, at] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const quote = fs.readFileSync(quotePath);
const collateral = JSON.parse(fs.readFileSync(collateralPath, 'utf8'));
let verify;
if (peer === 'js') {
	const lib = require('@phala/dcap-qvl');
	verify = () => lib.verify(quote, collateral, Number(at));
} else {
	const lib = await import('@phala/dcap-qvl-web');
	const wasm = require.resolve('@phala/dcap-qvl-web/dcap-qvl-web_bg.wasm');
	lib.initSync({ module: fs.readFileSync(wasm) });
	verify = () => lib.js_verify(quote, collateral, BigInt(at));
}
let status, first;
const start = process.hrtime.bigint();
for (let i = 0; i < Number(count); i++) {
	const t = process.hrtime.bigint();
	status = verify().status;
	if (i === 0) first = Number(process.hrtime.bigint() - t) / 1e6;
}
const total = Number(process.hrtime.bigint() - start) / 1e6;
console.log(status, first.toFixed(3), (total / Number(count)).toFixed(3));
EOF

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# wall_ms CMD...: runs CMD with output discarded and prints its wall time.
wall_ms() {
	local t0 t1
	t0=$(now_ms)
	"$@" >/dev/null
	t1=$(now_ms)
	echo $((t1 - t0))
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) b = 0.001; printf "%.1f", a / b }'; }

echo
echo "== in-process cost of one verification (ms)"
# The minimum of three runs of each benchmark is the least disturbed by
# other load on the machine.
ours_cold_ns=$(cd "$repo" && TCS_REAL_QUOTES=$(dirname "$sample") TCS_BENCH_SAMPLE=$(basename "$sample") go test -run='^$' \
	-bench='^BenchmarkVerify(Cold|Warm)$|^BenchmarkThreeECDSAP256$' -benchtime=1s -count=3 ./internal/dcap/verify/ |
	awk '/^Benchmark/ { sub(/-[0-9]+$/, "", $1); if (!($1 in min) || $3 < min[$1]) min[$1] = $3 }
		END { for (b in min) print b, min[b] }' | sort)
echo "$ours_cold_ns" | sed 's/^/  go test: /'
ours_cold=$(echo "$ours_cold_ns" | awk '$1 == "BenchmarkVerifyCold" { printf "%.3f", $2 / 1e6 }')
ours_warm=$(echo "$ours_cold_ns" | awk '$1 == "BenchmarkVerifyWarm" { printf "%.3f", $2 / 1e6 }')
three=$(echo "$ours_cold_ns" | awk '$1 == "BenchmarkThreeECDSAP256" { printf "%.3f", $2 / 1e6 }')

cd "$work"
read -r js_status js_first js_mean < <(node peer.mjs js 20 "$quote" "$collateral" "$at")
read -r web_status web_first web_mean < <(node peer.mjs web 20 "$quote" "$collateral" "$at")
printf "  %-28s %10s %12s %10s\n" verifier "first call" "mean of 20" status
printf "  %-28s %10s %12s %10s\n" "tcsctl (Go, cold Verifier)" "$ours_cold" "$ours_cold" "$expected"
printf "  %-28s %10s %12s %10s\n" "@phala/dcap-qvl (JS)" "$js_first" "$js_mean" "$js_status"
printf "  %-28s %10s %12s %10s\n" "@phala/dcap-qvl-web (wasm)" "$web_first" "$web_mean" "$web_status"
echo "  ours warm: $ours_warm ms; three ECDSA P-256 verifications: $three ms; ratio $(ratio "$ours_warm" "$three")"
echo "  cold speed-up vs JS:   first call $(ratio "$js_first" "$ours_cold")x, mean $(ratio "$js_mean" "$ours_cold")x"
echo "  cold speed-up vs wasm: first call $(ratio "$web_first" "$ours_cold")x, mean $(ratio "$web_mean" "$ours_cold")x"

echo
echo "== one process, one verification, wall time including start-up (ms)"
ours_one=$(wall_ms ./tcsctl quote verify --collateral "$collateral" --at "$at" "$quote")
js_one=$(wall_ms node peer.mjs js 1 "$quote" "$collateral" "$at")
web_one=$(wall_ms node peer.mjs web 1 "$quote" "$collateral" "$at")
echo "  tcsctl $ours_one, JS $js_one ($(ratio "$js_one" "$ours_one")x), wasm $web_one ($(ratio "$web_one" "$ours_one")x)"

echo
echo "== one process, $batch verifications of the quote, wall time (ms)"
args=()
for ((i = 0; i < batch; i++)); do args+=("$quote"); done
ours_batch=$(wall_ms ./tcsctl quote verify --json --collateral "$collateral" --at "$at" "${args[@]}")
js_batch=$(wall_ms node peer.mjs js "$batch" "$quote" "$collateral" "$at")
web_batch=$(wall_ms node peer.mjs web "$batch" "$quote" "$collateral" "$at")
echo "  tcsctl $ours_batch, JS $js_batch ($(ratio "$js_batch" "$ours_batch")x), wasm $web_batch ($(ratio "$web_batch" "$ours_batch")x)"
