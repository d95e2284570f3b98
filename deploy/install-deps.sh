#!/bin/sh
# Installs what aioctl needs to build, run and test on Debian 12 (as root).
# Every package is Debian's own; the README says why each one is here.
set -eu

packages="build-essential cmake pkg-config clang-format
  libnng-dev libmbedtls-dev libprotobuf-c-dev protobuf-c-compiler
  libsqlite3-dev sqlite3 libsystemd-dev libinih-dev libjansson-dev libxml2-dev
  libcurl4-openssl-dev prometheus-alertmanager python3
  libcriterion-dev systemd-journal-remote openssl clang libclang-rt-14-dev
  chromium nodejs prometheus jq scdoc groff-base debootstrap lintian
  qemu-system-x86 qemu-utils libvirt-daemon-system libvirt-clients
  libpq-dev postgresql"

missing=""
for p in $packages; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
# npm for the browser test's playwright-core: Debian's, unless the nodejs
# installed brings its own
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing; run as root" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
# prometheus is here for promtool (the /metrics test); do not leave the
# server it ships running on a machine that did not have it
case " $missing " in
*" prometheus "*) systemctl disable --now prometheus >/dev/null 2>&1 || true ;;
esac
# the same for Alertmanager: the tests start their own
case " $missing " in
*" prometheus-alertmanager "*)
	systemctl disable --now prometheus-alertmanager >/dev/null 2>&1 || true
	pkill -f "^/usr/bin/prometheus-alertmanager" 2>/dev/null || true
	;;
esac
# PostgreSQL is here for the tests of the postgresql:// backend, which
# run their own initdb in a temporary directory: stop the cluster the
# package creates and starts
case " $missing " in
*" postgresql "*)
	systemctl disable --now postgresql >/dev/null 2>&1 || true
	pg_ctlcluster 15 main stop >/dev/null 2>&1 || true
	;;
esac
# libvirt is here for the tests, which start their own daemons in a
# private namespace; leave none running that this script brought
case " $missing " in
*" libvirt-daemon-system "*)
	systemctl disable --now libvirtd virtlogd libvirtd.socket virtlogd.socket \
		>/dev/null 2>&1 || true
	;;
esac
