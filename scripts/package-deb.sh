#!/usr/bin/env bash
# Builds the Debian package target/debian/verilens_<version>_<arch>.deb from the release
# binary that scripts/build.sh made (this script compiles nothing), and prints its path last.
#
# It installs /usr/bin/verilens, the systemd unit verilens.service (enabled, not started),
# /etc/verilens/verilens.toml (from verilens.example.toml) and /etc/verilens/verilens.env
# (secrets, root:verilens 0640), and the man pages that `verilens man` writes. The server
# runs as the system user verilens with its snapshot in /var/lib/verilens, which a purge keeps.
set -euo pipefail
cd "$(dirname "$0")/.."
umask 022

die() { echo "package-deb: $*" >&2; exit 1; }

binary=target/release/verilens
[ -x "$binary" ] || die "$binary is missing: build it first with scripts/build.sh"
[ -f verilens.example.toml ] || die "verilens.example.toml (installed as /etc/verilens/verilens.toml) is missing"
command -v dpkg-deb >/dev/null || die "dpkg-deb is missing (apt-get install dpkg)"

# The [package] section's version; a semver pre-release (1.0.0-rc.1) sorts before its
# release in Debian only with a tilde (1.0.0~rc.1).
version=$(awk '
  /^\[/ { in_package = ($0 == "[package]") }
  in_package && /^version[[:space:]]*=/ { gsub(/^version[[:space:]]*=[[:space:]]*"|"[[:space:]]*$/, ""); print; exit }
' Cargo.toml)
[ -n "$version" ] || die "no version = \"...\" line in the [package] section of Cargo.toml"
version=${version//-/\~}
arch=$(dpkg --print-architecture)

out=target/debian
root=$out/verilens_${version}_$arch
deb=$out/verilens_${version}_$arch.deb
rm -rf "$root" "$deb"
mkdir -p "$root/DEBIAN"

# The binary, stripped of its symbols (almost half its size).
install -d "$root/usr/bin"
if command -v strip >/dev/null; then
  strip --strip-unneeded -o "$root/usr/bin/verilens" "$binary"
  chmod 0755 "$root/usr/bin/verilens"
else
  install -m 0755 "$binary" "$root/usr/bin/verilens"
fi

install -D -m 0644 packaging/verilens.service "$root/lib/systemd/system/verilens.service"
install -D -m 0644 verilens.example.toml "$root/etc/verilens/verilens.toml"
install -D -m 0640 packaging/verilens.env "$root/etc/verilens/verilens.env"

# Man pages, from the binary's own command-line definitions.
man_tmp=$out/man
rm -rf "$man_tmp"
mkdir -p "$man_tmp"
if ! "$binary" man --out-dir "$man_tmp" >/dev/null; then
  die "'$binary man --out-dir DIR' failed: the binary needs its (hidden) man subcommand; rebuild it with scripts/build.sh"
fi
[ -f "$man_tmp/verilens.1" ] || die "'$binary man --out-dir $man_tmp' wrote no verilens.1"
install -d "$root/usr/share/man/man1"
for page in "$man_tmp"/*.1; do
  gzip -9n -c "$page" >"$root/usr/share/man/man1/$(basename "$page").gz"
  chmod 0644 "$root/usr/share/man/man1/$(basename "$page").gz"
done
rm -rf "$man_tmp"

install -d "$root/usr/share/doc/verilens"
cat >"$root/usr/share/doc/verilens/copyright" <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: verilens

Files: *
Copyright: verilens maintainers
License: MIT
 Permission is hereby granted, free of charge, to any person obtaining a copy
 of this software and associated documentation files (the "Software"), to deal
 in the Software without restriction, including without limitation the rights
 to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
 copies of the Software, and to permit persons to whom the Software is
 furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included in all
 copies or substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
 AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
 LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
 OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
 SOFTWARE.
EOF
chmod 0644 "$root/usr/share/doc/verilens/copyright"

# The shared libraries' packages and minimum versions (libc6, libgcc-s1), as dpkg-shlibdeps
# finds them; it reads a debian/control, so it runs in a scratch directory with a minimal one.
shlib_depends=libc6
if command -v dpkg-shlibdeps >/dev/null; then
  scratch=$PWD/$out/shlibdeps
  rm -rf "$scratch"
  mkdir -p "$scratch/debian"
  printf 'Source: verilens\n\nPackage: verilens\nArchitecture: any\n' >"$scratch/debian/control"
  staged_binary=$PWD/$root/usr/bin/verilens
  if substvars=$(cd "$scratch" && dpkg-shlibdeps -O "$staged_binary" 2>"$scratch/stderr"); then
    found=$(sed -n 's/^shlibs:Depends=//p' <<<"$substvars")
    [ -n "$found" ] && shlib_depends=$found
  else
    echo "package-deb: dpkg-shlibdeps failed, depending on libc6 alone:" >&2
    cat "$scratch/stderr" >&2
  fi
  rm -rf "$scratch"
fi

installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<EOF
Package: verilens
Version: $version
Architecture: $arch
Maintainer: verilens maintainers <verilens@localhost>
Section: web
Priority: optional
Depends: adduser, $shlib_depends
Installed-Size: $installed_size
Description: dashboard of where Twilio Verify codes fail to convert
 verilens reads Twilio Verify's Verification Attempts API into a local sqlite
 snapshot and serves a web dashboard of conversion, delivery and spend by
 country, channel and carrier over time. Twilio keeps attempts for 30 days;
 the snapshot keeps them as long as you like.
 .
 The systemd service runs as the verilens user, with its settings in
 /etc/verilens/verilens.toml and its Twilio credentials in
 /etc/verilens/verilens.env. Without credentials it serves demo data from a
 built-in emulator of the API.
EOF
printf '/etc/verilens/verilens.toml\n/etc/verilens/verilens.env\n' >"$root/DEBIAN/conffiles"
for script in postinst prerm postrm; do
  install -m 0755 "packaging/debian/$script" "$root/DEBIAN/$script"
done
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles"

dpkg-deb --build --root-owner-group "$root" "$deb" >&2
rm -rf "$root"
echo "$deb"
