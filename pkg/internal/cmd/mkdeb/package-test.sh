#!/usr/bin/env bash
# package-test.sh DEB: what "make package-test" runs on the package "make
# deb" built. As root, on this machine (CI's, or a developer's):
#
#   1. lintian: no error and no warning (the justified ones are overridden
#      in the package, see debian/lintian-overrides);
#   2. dpkg -i: the files, the conffile, the wackamole user and the key
#      postinst makes;
#   3. the installed "wackamole check" on the shipped configuration, as
#      the daemon's user (as the unit's ExecStartPre runs it) and as root;
#      man -l on each installed page, without a warning; the unit through
#      systemd-analyze verify; the bash completions;
#   4. dpkg -i again (an upgrade in place: the key is kept), dpkg -r (the
#      configuration stays), dpkg --purge (it goes; the user stays, as
#      Debian does).
#
# It leaves the machine as it found it, also when a step fails: it refuses
# to run where wackamole is installed or /etc/wackamole exists, purges
# what it installed, and removes the wackamole user and group if they did
# not exist before it ran.
set -euo pipefail

deb=${1:?usage: package-test.sh DEB}
pkg=wackamole
[ "$(id -u)" -eq 0 ] || { echo "package-test: needs root (dpkg -i, a system user)" >&2; exit 1; }
[ -f "$deb" ] || { echo "package-test: $deb: no such file" >&2; exit 1; }
if dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null | grep -qv '^not-installed$'; then
	echo "package-test: $pkg is installed on this machine; refusing to replace and purge it" >&2
	exit 1
fi
if [ -e /etc/wackamole ]; then
	echo "package-test: /etc/wackamole exists; refusing to run (the purge would remove it)" >&2
	exit 1
fi

had_user=no had_group=no
getent passwd "$pkg" >/dev/null && had_user=yes
getent group "$pkg" >/dev/null && had_group=yes
installed=no

cleanup() {
	local rc=$?
	set +e
	if [ "$installed" = yes ] || dpkg-query -W "$pkg" >/dev/null 2>&1; then
		dpkg --purge "$pkg" >/dev/null 2>&1 || echo "package-test: dpkg --purge $pkg failed" >&2
	fi
	if [ "$had_user" = no ] && getent passwd "$pkg" >/dev/null; then
		deluser --system --quiet "$pkg" >/dev/null 2>&1 || userdel "$pkg"
	fi
	if [ "$had_group" = no ] && getent group "$pkg" >/dev/null; then
		delgroup --system --quiet "$pkg" >/dev/null 2>&1 || groupdel "$pkg"
	fi
	rm -rf /etc/wackamole
	if [ $rc -ne 0 ]; then
		echo "package-test: FAILED (the machine is cleaned up)" >&2
	fi
	exit $rc
}
trap cleanup EXIT

step() { echo "== $*"; }
fail() { echo "package-test: $*" >&2; exit 1; }

step "lintian $deb"
lintian --fail-on error,warning --info "$deb"

step "dpkg -i $deb"
installed=yes
dpkg -i "$deb"
[ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg")" = installed ] || fail "$pkg is not installed after dpkg -i"
getent passwd "$pkg" >/dev/null || fail "postinst made no $pkg user"
[ "$(stat -c '%U:%G %a' /etc/wackamole/gossip.key)" = "root:$pkg 640" ] ||
	fail "/etc/wackamole/gossip.key is $(stat -c '%U:%G %a' /etc/wackamole/gossip.key), want root:$pkg 640"
dpkg-query -W -f='${Conffiles}\n' "$pkg" | grep -q '^ /etc/wackamole/wackamole.toml ' ||
	fail "/etc/wackamole/wackamole.toml is not a conffile"
for f in /usr/sbin/wackamole /usr/bin/wackatrl /lib/systemd/system/wackamole.service \
	/usr/share/doc/$pkg/copyright /usr/share/doc/$pkg/changelog.Debian.gz \
	/usr/share/bash-completion/completions/wackamole /usr/share/zsh/vendor-completions/_wackatrl; do
	[ -f "$f" ] || fail "$f is not installed"
done

step "wackamole check on the shipped configuration"
runuser -u "$pkg" -- wackamole check -c /etc/wackamole/wackamole.toml
wackamole check -c /etc/wackamole/wackamole.toml
wackamole --version
wackatrl --version

step "man -l on each page"
pages=$(dpkg -L "$pkg" | grep '^/usr/share/man/man[0-9]/.*\.gz$' || true)
[ "$(echo "$pages" | wc -w)" -eq 3 ] || fail "want 3 manual pages, the package has: $pages"
for page in $pages; do
	warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null)
	[ -z "$warnings" ] || fail "man -l $page: $warnings"
	lines=$(LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$page" 2>/dev/null | wc -l)
	[ "$lines" -gt 40 ] || fail "man -l $page: $lines lines"
	echo "$page: $lines lines, no warning"
done
man -w wackamole.toml >/dev/null || fail "man wackamole.toml finds no page (man-db index)"

step "the unit and the completions"
systemd-analyze verify /lib/systemd/system/wackamole.service
bash -c 'source /usr/share/bash-completion/completions/wackamole && complete -p wackamole' >/dev/null
bash -c 'source /usr/share/bash-completion/completions/wackatrl && complete -p wackatrl' >/dev/null

step "dpkg -i again (an upgrade in place keeps the key)"
sum=$(sha256sum /etc/wackamole/gossip.key)
dpkg -i "$deb"
[ "$(sha256sum /etc/wackamole/gossip.key)" = "$sum" ] || fail "the reinstall changed the gossip key"

step "dpkg -r: the configuration stays"
dpkg -r "$pkg"
[ ! -e /usr/sbin/wackamole ] || fail "/usr/sbin/wackamole is left after dpkg -r"
[ -f /etc/wackamole/wackamole.toml ] && [ -f /etc/wackamole/gossip.key ] || fail "dpkg -r removed the configuration"

step "dpkg --purge: it goes, the user stays"
dpkg --purge "$pkg"
installed=no
[ ! -e /etc/wackamole ] || fail "/etc/wackamole is left after the purge: $(ls -A /etc/wackamole)"
getent passwd "$pkg" >/dev/null || fail "the purge removed the $pkg user (Debian leaves system users)"
! dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null | grep -q installed || fail "$pkg is still known to dpkg"

echo "package-test: PASS"
