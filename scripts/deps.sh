#!/bin/sh
# deps.sh: install the Debian/Ubuntu packages concbench needs, only those missing.
# As root it runs apt-get; otherwise it prints the exact command to run.
#   deps.sh          what the build and the tests need (missing ones are an error)
#   deps.sh --refs   also the real runtimes the reference backends run (go-ref, node-ref):
#                    `make bench` asks for them; without root it prints the command and goes
#                    on, those rows then being `unsupported` with the reason
set -eu
PKGS="build-essential pkg-config libuv1-dev libpython3-dev python3 hyperfine gnuplot-nox libcriterion-dev clang"
REF_PKGS="golang-go nodejs"
refs=0
case "${1-}" in
--refs) refs=1 ;;
"") ;;
*) echo "deps.sh: unknown option $1 (only --refs)" >&2; exit 2 ;;
esac

# Packages of $1 that dpkg does not list as installed; a runtime already in PATH (installed
# by hand, not from Debian) counts as present.
missing_of() {
	out=""
	for p in $1; do
		case "$p" in
		golang-go) command -v go >/dev/null 2>&1 && continue ;;
		nodejs) command -v node >/dev/null 2>&1 && continue ;;
		esac
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
			out="$out $p"
		fi
	done
	echo "$out"
}

missing=$(missing_of "$PKGS")
ref_missing=""
[ "$refs" = 1 ] && ref_missing=$(missing_of "$REF_PKGS")
[ -z "$missing$ref_missing" ] && exit 0
cmd="apt-get install -y --no-install-recommends$missing$ref_missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "concbench needs:$missing$ref_missing" >&2
	echo "run: sudo apt-get update && sudo $cmd" >&2
	# The references are optional: without them their rows say why they did not run.
	[ -z "$missing" ] && { echo "(going on without:$ref_missing)" >&2; exit 0; }
	exit 1
fi
echo "installing:$missing$ref_missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing$ref_missing >/dev/null
