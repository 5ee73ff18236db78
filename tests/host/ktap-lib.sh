# shellcheck shell=bash
# What the KTAP-printing test scripts of tests/host share (sourced, not run):
# result NAME STATUS [diagnostic lines...] prints one leaf result and
# counts it in $n and, when STATUS is not 0, in $failed.
n=0 failed=0

result() {
	local name=$1 status=$2
	shift 2
	n=$((n + 1))
	if [ "$status" = 0 ]; then
		echo "    ok $n $name"
	else
		failed=$((failed + 1))
		for d in "$@"; do echo "    # $d"; done
		echo "    not ok $n $name"
	fi
}
