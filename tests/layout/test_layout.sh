#!/bin/bash
# The source layout's rules, checked on the tree (STYLE.md, "Where things
# live"): modules call down, never in a circle; SQL lives with its table's
# owner; the rollout engine stays one job. Run: test_layout.sh SOURCE-DIR
set -u
top=${1:?source dir}
. "$(dirname "$0")/../real/lib.sh"
cd "$top" || exit 1

# 1. no include cycle among the modules of each program: an edge from a
# module (its .c or .h) to every module whose header it includes
for dir in server agent cli common; do
	edges=$(for f in "$dir"/*.[ch]; do
		m=$(basename "$f"); m=${m%.*}
		sed -n 's/^#include "\([a-z_0-9]*\)\.h".*/\1/p' "$f" | while read -r h; do
			[ -f "$dir/$h.h" ] && [ "$h" != "$m" ] && echo "$m $h"
		done
	done | sort -u)
	out=$(echo "$edges" | tsort 2>&1 >/dev/null)
	check "$dir/: no module includes another in a circle" [ -z "$out" ]
	[ -z "$out" ] || echo "$out" | sed 's/^/    /'
done

# 2. SQL and SQLite calls only in the storage: sql.c (the SQLite and
# PostgreSQL connections), db.c, query.c and the owners
owners='sql db query store store_copy cluster store_hosts history store_events rollout_store audit store_tokens
store_alerts store_prune'
stray=""
for f in server/*.c server/*.h; do
	b=$(basename "$f")
	case " $(echo $owners) " in *" ${b%.*} "*) continue ;; esac
	if grep -qE 'sqlite3_|#include <sqlite3\.h>|"(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP) ' "$f"; then
		stray="$stray $b"
	fi
done
check "server/: no SQL outside the table owners (found in:${stray:- none})" [ -z "$stray" ]

# 3. each table is created in exactly one file
for t in hosts host_labels samples raw series rollup_5m rollup_1h vm_usage events rollouts \
	rollout_steps audit tokens enrollments alerts; do
	n=$(grep -l "CREATE TABLE $t (" server/*.c | wc -l)
	check "table $t has one owner" [ "$n" -eq 1 ]
done

# 4. the engine keeps the state machine only
n=$(wc -l <server/rollout.c)
check "server/rollout.c under 800 lines ($n)" [ "$n" -lt 800 ]

# 5. the registry's lock is taken in hosts.c only
n=$(grep -l 'hosts\.lock\|reg->lock' server/*.c | grep -vc '^server/hosts.c$')
check "the host registry's lock is taken in hosts.c only" [ "$n" -eq 0 ]

lib_summary
