#!/usr/bin/env bash
# Regenerates the README's "Results on this machine" section and docs/{speedup,roofline}.{svg,png}
# from a full `lancehead compare` run here, printing compare's terminal tables and its wall time.
# Extra arguments go to compare (e.g. --quick, --sizes ...).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release
SECONDS=0
cargo run -q --release -- compare --out results "$@"
echo "compare: ${SECONDS} s wall" >&2
cp results/speedup.svg results/speedup.png results/roofline.svg results/roofline.png docs/

# Replace what lies between the markers with the Markdown report, headings moved down one
# level (its title dropped) so that it nests under the README's section.
awk -v report=results/compare.md '
    /<!-- compare:begin -->/ {
        print
        while ((getline line < report) > 0) {
            if (line ~ /^# /) continue
            sub(/^## /, "### ", line)
            print line
        }
        skip = 1
        next
    }
    /<!-- compare:end -->/ { skip = 0 }
    !skip { print }
' README.md > README.md.tmp
mv README.md.tmp README.md
echo "README.md and docs/{speedup,roofline}.{svg,png} updated from results/"
