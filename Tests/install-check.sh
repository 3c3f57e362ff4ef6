#!/usr/bin/env bash
# make install into a scratch prefix, then the installed binary run from
# elsewhere finds its themes and samples; completions, the man page and the
# systemd units are where a user looks; make uninstall leaves no file.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=$(mktemp -d /tmp/xdpbatch-install.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
failures=0
fail() { echo "install-check: FAIL: $*" >&2; failures=$((failures + 1)); }

make --no-print-directory install PREFIX="$prefix" >/dev/null

bin="$prefix/bin/xdpbatch"
[ -x "$bin" ] || fail "no executable $bin"
for file in share/bash-completion/completions/xdpbatch share/zsh/site-functions/_xdpbatch \
  share/fish/vendor_completions.d/xdpbatch.fish share/man/man1/xdpbatch.1 \
  lib/systemd/system/xdpbatch-exporter.service 'lib/systemd/system/xdpbatch-datapath@.service'; do
  [ -s "$prefix/$file" ] || fail "missing or empty: $file"
done
grep -q "_xdpbatch_attach\|xdpbatch attach\|attach" "$prefix/share/bash-completion/completions/xdpbatch" \
  || fail "the bash completion names no subcommand"
grep -q '^\.Dt XDPBATCH 1' "$prefix/share/man/man1/xdpbatch.1" || fail "the man page has no .Dt XDPBATCH 1"
grep -q "attach" "$prefix/share/man/man1/xdpbatch.1" || fail "the man page lists no subcommand"
grep -q "ExecStart=$prefix/bin/xdpbatch datapath run" \
  "$prefix/lib/systemd/system/xdpbatch-datapath@.service" || fail "the unit does not run $bin"

# The installed binary, run from / with no checkout around: it is the
# release build and finds the installed samples and themes.
version=$(cd / && HOME=/nonexistent "$bin" version --json)
echo "install-check: $version"
expect() {
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if eval(sys.argv[2]) else 1)' \
    "$version" "$1" || fail "version --json: expected $1"
}
expect "d['build'] == 'release'"
expect "d['samples'] == '$prefix/share/xdpbatch/samples'"
expect "any(f['path'] == '$prefix/share/xdpbatch/themes' and sorted(f.get('themes', [])) == ['colorblind', 'default', 'light', 'mono'] for f in d['theme_folders'])"
# A sample the demo would load, read by the installed binary.
(cd / && "$bin" disasm "$prefix/share/xdpbatch/samples/xdp_classify.o" >/dev/null) \
  || fail "the installed binary cannot read its installed sample"

make --no-print-directory uninstall PREFIX="$prefix" >/dev/null
left=$(find "$prefix" -type f -o -type l)
[ -z "$left" ] || fail "make uninstall left: $left"
[ ! -e "$prefix/share/xdpbatch" ] || fail "make uninstall left share/xdpbatch"

if [ "$failures" -ne 0 ]; then exit 1; fi
echo "install-check: passed (install into $prefix, installed binary from /, uninstall)"
