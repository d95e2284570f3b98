#!/bin/sh
# Builds the three Debian packages (aioctl-agent, aioctl-server, aioctl)
# into build-deb/, for the paths Debian uses (/usr, /etc, /lib/systemd).
#   deploy/build-debs.sh            then: apt-get install ./build-deb/*.deb
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
# Debian's own build flags, every hardening feature on (as dpkg-buildpackage
# would give them)
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
CFLAGS="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
LDFLAGS=$(dpkg-buildflags --get LDFLAGS)
export CFLAGS LDFLAGS
rm -rf build-deb
cmake -S . -B build-deb -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
	-DAIO_TESTS=OFF >/dev/null
cmake --build build-deb -j "$(nproc)"
(cd build-deb && rm -f ./*.deb && cpack -G DEB >/dev/null)
ls build-deb/*.deb
