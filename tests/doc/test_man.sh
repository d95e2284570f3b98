#!/bin/bash
# The man pages stay true: every config key both daemons accept (their
# --help lists them) is in aioctl.conf(5) under its daemon, every aioctl
# command and flag is in aioctl(1), every page the units' Documentation=
# names is built, and each page renders without a groff warning.
#   test_man.sh SOURCE_DIR BUILD_DIR
set -u
. "$(dirname "$0")/../real/lib.sh"
src=${1:?usage: test_man.sh SOURCE_DIR BUILD_DIR}
build=${2:?usage: test_man.sh SOURCE_DIR BUILD_DIR}
bin=$build/bin
doc=$src/doc

# the part of a page between two headings
part() { sed -n "/^# $2/,/^# /p" "$1"; }

keys() { "$bin/$1" --help | sed -n 's/^  --\([a-z0-9-]*\).*/\1/p' | grep -vx 'help\|version'; }
missing=""
for k in $(keys aio-server); do
	part "$doc/aioctl.conf.5.scd" "SERVER KEYS" | grep -q "^\*$k\* = " || missing="$missing server:$k"
done
for k in $(keys aio-agent); do
	part "$doc/aioctl.conf.5.scd" "AGENT KEYS" | grep -q "^\*$k\* = " || missing="$missing agent:$k"
done
check "every key of both daemons is in aioctl.conf(5)${missing:+ (missing:$missing)}" [ -z "$missing" ]

missing=""
while read -r noun verb; do
	grep -q "^\*$noun $verb\*" "$doc/aioctl.1.scd" || missing="$missing '$noun $verb'"
done < <("$bin/aioctl" --help | sed -n 's/^  \([a-z]\+\) \([a-z]\+\)\( \|$\).*/\1 \2/p')
for f in $("$bin/aioctl" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
	grep -q -- "\*$f\*" "$doc/aioctl.1.scd" || missing="$missing $f"
done
for s in $("$bin/aioctl" --help | sed -n 's/^  \(-[a-z]\), --.*/\1/p'); do
	grep -q -- "\*$s\*" "$doc/aioctl.1.scd" || missing="$missing $s"
done
check "every aioctl command and flag is in aioctl(1)${missing:+ (missing:$missing)}" [ -z "$missing" ]

missing=""
for page in $(sed -n 's/^Documentation=//p' "$build"/aio-*.service | tr ' ' '\n' | sed -n 's/^man:\(.*\)(\([0-9]\))$/\1.\2/p' | sort -u); do
	[ -s "$build/man/$page.gz" ] || missing="$missing $page"
done
check "every page the units name is built${missing:+ (missing:$missing)}" [ -z "$missing" ]

for page in "$build"/man/*.gz; do
	warn=$(zcat "$page" | groff -man -ww -z 2>&1)
	check "$(basename "$page") renders without warnings${warn:+: $warn}" [ -z "$warn" ]
	check "$(basename "$page") has NAME, SYNOPSIS, DESCRIPTION, SEE ALSO" \
		sh -c "zcat '$page' | grep -cx '\.SH \(NAME\|SYNOPSIS\|DESCRIPTION\|SEE ALSO\)' | grep -qx 4"
done
lib_summary
