# shellcheck shell=bash
# Shared by scripts/test and scripts/demo: install what wiretrace needs on Debian 12 when it is
# missing (non-interactive; only packages that are not installed yet; apt-get update first).

WT_BUILD_PKGS="cmake make gcc pkg-config libcurl4-openssl-dev libprotobuf-c-dev protobuf-c-compiler
libunwind-dev libcmocka-dev zlib1g-dev curl python3 nodejs npm"
WT_TEST_PKGS="clang libclang-rt-14-dev nginx-light openssl python3-protobuf protobuf-compiler chromium"

wt_missing_pkgs() {
	local p missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	echo "${missing[@]}"
}

# wt_install_deps [test]: the build dependencies, plus the test ones with "test".
wt_install_deps() {
	local want="$WT_BUILD_PKGS"
	[ "${1:-}" = test ] && want="$want $WT_TEST_PKGS"
	# node and npm may come from elsewhere than Debian (a newer Node): accept them on PATH.
	if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
		want=$(echo "$want" | tr ' \n' '\n\n' | grep -vxE 'nodejs|npm' | tr '\n' ' ')
	fi
	local missing
	# shellcheck disable=SC2086
	missing=$(wt_missing_pkgs $want)
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null 2>&1; then
		echo "wiretrace: missing Debian packages: $missing (run as root or install them)" >&2
		return 1
	fi
	local sudo=""
	[ "$(id -u)" != 0 ] && sudo="sudo"
	echo "wiretrace: installing: $missing" >&2
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || return 1
	# shellcheck disable=SC2086
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		$missing >&2 || return 1
}
