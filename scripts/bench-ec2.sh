#!/usr/bin/env bash
# EC2 inventory benchmark: moto on a free port, 5000 instances seeded with
# boto3 (one reservation each, so paging is real), then a full sync.
#   scripts/bench-ec2.sh [COUNT]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh
source scripts/ensure-test-peers.sh
COUNT="${1:-5000}"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$POWERDECK_VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" >/dev/null 2>&1 &
MOTO=$!
trap 'kill $MOTO' EXIT
until python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT))" 2>/dev/null; do sleep 0.1; done
URL="http://127.0.0.1:$PORT"
"$POWERDECK_VENV/bin/python" crates/core/tests/ec2/moto_tool.py seed "$URL" --region us-east-1 --count "$COUNT" --stopped-every 4 >/dev/null
"$POWERDECK_VENV/bin/python" crates/core/tests/ec2/moto_tool.py seed "$URL" --region eu-west-1 --count "$COUNT" --stopped-every 4 >/dev/null
cargo build --release --locked -q -p powerdeck-core --example bench_ec2
target/release/examples/bench_ec2 "$URL" us-east-1
target/release/examples/bench_ec2 "$URL" us-east-1 eu-west-1
