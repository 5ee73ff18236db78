# shellcheck shell=bash
# The real-program workloads that tests/host/shim-programs.sh (outputs
# compared with glibc's malloc) and scripts/bench-shim.sh (time and memory)
# run with a malloc replacement preloaded. Sourced, not run.
#
#   shim_prepare ROOT O DIR   builds the inputs every run shares, in DIR, once
#                             per run of a script and without any preload;
#                             snapshots of what may change meanwhile (the
#                             checkout's sources and commits, the DTBs).
#   shim_workload NAME DIR    runs workload NAME in the empty directory DIR
#                             (inputs in $SHIM_INPUT, set by shim_prepare)
#                             with $SHIM_PRELOAD (empty: glibc's malloc)
#                             preloaded into the programs under test only, not
#                             into the shell or helpers such as sha256sum.
#                             Stdout is what must not depend on the allocator,
#                             ending with an "exit N: COMMAND" line for a
#                             program that failed; stderr is the programs'
#                             own. Status 0, 1 when a program failed, 77
#                             when the workload cannot run here (no git
#                             checkout): stdout says why.
#   shim_stop                 on an interruption: ends the programs still
#                             running (their IDs are noted in $SHIM_PIDS,
#                             when the caller sets it).
#
# The workloads, longest first (times: glibc on the 2-core machine they were
# written on):
#  python3  Debian's /usr/bin/python3 with PYTHONMALLOC=malloc (so every
#           object goes through malloc rather than CPython's own small-object
#           arenas): a dict of 120 000 records with string keys, lists and
#           strings of varied sizes, through json.dumps and json.loads
#           (compared with the original), sorted and grouped; prints
#           digests. Peak RSS ~300 MB, ~7.5 s.
#  xz       xz -9 -T1 of the 100 MB file below (its 674 MiB of match finder
#           and dictionary), then xz -d of the result; digests. ~6.5 s.
#  gcc      gcc -O2 -g -S of the six largest C files of lib/ and mm/ (the
#           portable code, 3600 lines, one gcc each; a file that does not
#           compile on the host is left out at preparation), the assembly
#           compared. ~2 s (all 35 files took 6 s, six times in make check).
#  sqlite3  an in-memory database (every page malloc'ed): 100 000 rows with
#           text and blobs of 1 byte to 25 KiB, two indexes, GROUP BY and
#           ORDER BY selects, a window function, updates that double blobs,
#           deletes, VACUUM, integrity_check and a SHA3 of the whole table.
#           Peak RSS ~280 MB, ~4 s.
#  sort     LC_ALL=C sort of the 100 MB file, whole lines and then by two
#           keys (a word, then a number in reverse), two threads; digests.
#           ~2 s.
#  git      git clone --no-local of the checkout (a snapshot of it, so that
#           commits made meanwhile change nothing), log --stat of every
#           commit, log -p of the last 30, gc (one pack thread: a deterministic
#           pack), fsck --full --strict, count-objects -v and verify-pack -v.
#           <1 s for this repository.
#  dtc      dtc -I dtb -O dts of every DTB the host tests build
#           ($O/host/dtb/**/*.dtb). <1 s.
#
# The 100 MB file for xz and sort: ~99 000 lines of an 8-digit pseudo-random
# key (a fixed-seed LCG) and one of eight rotations of the same 1000-byte
# sequence of words. xz -9 of realistic text takes 60-160 s here and of lines
# drawn from 256 distinct ones 22 s, for each of the six runs of the test;
# this takes ~6 s: the long repeats are long matches xz skips through, the
# keys leave it some real work, and it still allocates its 674 MiB. The keys
# make sort's work real (mostly distinct lines, compared on their first
# bytes), where "yes"-like data would be sorted without a comparison.

# shellcheck disable=SC2034 # used by the scripts that source this
shim_workloads=(python3 xz gcc sqlite3 sort git dtc)

# Runs PROGRAM preloaded under a hard timeout of SECONDS (times
# $SHIM_TIMEOUT_SCALE); a failure is noted on stdout at the end of the
# workload. Returns the program's status.
shim_run() { # SECONDS PROGRAM [ARG...]
	local t rc
	t=$(($1 * ${SHIM_TIMEOUT_SCALE:-1}))
	shift
	# in the background, to note its ID for shim_stop (timeout runs the
	# program in a process group of its own, which a ^C does not reach)
	if [ -n "${SHIM_PRELOAD:-}" ]; then
		timeout -k 5 "$t" env LD_PRELOAD="$SHIM_PRELOAD" "$@" <&0 &
	else
		timeout -k 5 "$t" "$@" <&0 &
	fi
	[ -n "${SHIM_PIDS:-}" ] && echo $! >>"$SHIM_PIDS"
	wait $!
	rc=$?
	if [ $rc -ne 0 ]; then
		if [ $rc = 124 ]; then
			echo "exit $rc (timed out after $t s): $*"
		elif [ $rc = 137 ]; then
			echo "exit $rc (SIGKILL: the timeout of $t s, TERM ignored, or the OOM killer): $*"
		elif [ $rc -gt 128 ] && [ $rc -lt 160 ]; then
			echo "exit $rc (SIG$(kill -l $((rc - 128)))): $*"
		else
			echo "exit $rc: $*"
		fi >>"$SHIM_FAILED"
	fi
	return $rc
}

# Ends the programs an interrupted script leaves running: the timeouts
# noted in $SHIM_PIDS that are still there (TERM, which they pass on).
shim_stop() {
	local pid
	[ -f "${SHIM_PIDS:-}" ] || return 0
	while read -r pid; do
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = timeout ] && kill "$pid" 2>/dev/null
	done <"$SHIM_PIDS"
	return 0
}

shim_prepare() { # ROOT O DIR
	local root=$1 o=$2 dir=$3 f rel
	export SHIM_INPUT=$dir
	mkdir -p "$dir/src/include" "$dir/src/libfdt" "$dir/dtb" || return 1

	# xz and sort: the 100 MB file (see above)
	/usr/bin/python3 -c '
import sys
words = b"page frame buddy slab hart heap block vmap".split()
seq = b" ".join(words[i % 8] for i in range(200))
tails = [(seq[k * 7:] + b" " + seq)[:1000] for k in range(8)]
x, n, out = 20240601, 0, []
while n < 100_000_000:
    x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
    k = x >> 33
    line = b"%08d %s\n" % (k % 100_000_000, tails[k & 7])
    out.append(line)
    n += len(line)
sys.stdout.buffer.write(b"".join(out))
' >"$dir/data.txt" || return 1

	# gcc: a snapshot of lib/ and mm/ and the headers; the six largest files
	# that compile here (another build may be editing the checkout).
	mkdir -p "$dir/src/tools" && cp -r "$root/tools/port" "$dir/src/tools/" &&
	cp -r "$root/include/." "$dir/src/include/" && cp -r "$root/lib" "$root/mm" "$dir/src/" &&
		cp "$o"/libfdt/*.h "$dir/src/libfdt/" 2>/dev/null
	: >"$dir/gcc-files"
	for f in $(ls -S "$dir"/src/lib/*.c "$dir"/src/mm/*/*.c "$dir"/src/mm/*/*/*.c); do
		[ "$(wc -l <"$dir/gcc-files")" -ge 6 ] && break
		rel=${f#"$dir/src/"}
		# shellcheck disable=SC2086
		(cd "$dir/src" && gcc $SHIM_GCC_FLAGS -fsyntax-only "$rel" 2>/dev/null) && echo "$rel" >>"$dir/gcc-files"
	done

	# sqlite3 and python3: their scripts
	shim_sqlite_script >"$dir/workload.sql"
	shim_python_script >"$dir/workload.py"

	# git: a bare snapshot of the checkout's commits
	rm -f "$dir/no-git" "$dir/git-error"
	if [ -e "$root/.git" ]; then
		git -c safe.directory='*' clone -q --bare --no-local "$root" "$dir/repo.git" 2>"$dir/git-error" &&
			rm -f "$dir/git-error"
	else
		echo "not a git checkout: $root" >"$dir/no-git"
	fi

	# dtc: a snapshot of the DTBs
	if [ -d "$o/host/dtb" ]; then
		cp -r "$o/host/dtb/." "$dir/dtb/" || return 1
	fi
	return 0
}

SHIM_GCC_FLAGS="-std=gnu11 -O2 -g -pthread -Itools/port -Iinclude -Iinclude/libfdt -Ilibfdt"

shim_python_script() {
	cat <<'EOF'
import hashlib, json, random, sys

n = int(sys.argv[1])
r = random.Random(20240601)
words = ["%s%d" % (w, i) for i in range(50) for w in ("page", "slab", "hart", "frame", "block")]
d = {}
for i in range(n):
    key = "k%010d-%s" % (r.getrandbits(32), r.choice(words) * r.randrange(1, 6))
    d[key] = {
        "id": i,
        "size": r.randrange(1, 1 << 20),
        "tags": [r.choice(words) for _ in range(r.randrange(0, 10))],
        "note": "x" * r.randrange(0, 300),
        "ratio": round(r.random(), 6),
    }
text = json.dumps(d, sort_keys=True)
back = json.loads(text)
print("round trip equal:", back == d)
rows = sorted(back.items(), key=lambda kv: (kv[1]["size"] % 977, kv[1]["tags"], kv[0]))
by_tag = {}
for k, v in rows:
    for t in v["tags"]:
        by_tag.setdefault(t, []).append(v["id"])
h = hashlib.sha256()
for k, v in rows:
    h.update(k.encode())
    h.update(json.dumps(v, sort_keys=True).encode())
print("records", len(d), "json bytes", len(text))
print("sorted", h.hexdigest())
print("by tag", hashlib.sha256(json.dumps(sorted(by_tag.items())).encode()).hexdigest())
print("first", rows[0][0], "last", rows[-1][0])
EOF
}

shim_sqlite_script() {
	cat <<'EOF'
PRAGMA cache_size = -131072;
CREATE TABLE item(id INTEGER PRIMARY KEY, grp INTEGER NOT NULL, name TEXT NOT NULL,
	body BLOB, score REAL);
WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < 100000)
INSERT INTO item(id, grp, name, body, score)
SELECT x, (x * 7919) % 101,
	printf('n%07d-%s', (x * 2654435761) % 10000019,
		substr('slabpagebuddyhartframeblockvmapmmuheap', 1 + x % 29, 1 + (x * 13) % 40)),
	CASE WHEN x % 997 = 0 THEN zeroblob(20000 + x % 5000)
	ELSE CAST(substr(replace(hex(zeroblob(1 + (x * 31) % 700)), '00', printf('%02x', x % 251)),
		1, 1 + (x * 31) % 1400) AS BLOB) END,
	((x * 48271) % 2147483647) / 2147483647.0
FROM seq;
CREATE INDEX item_grp ON item(grp, score);
CREATE INDEX item_name ON item(name);
SELECT count(*), sum(length(body)), printf('%.6f', total(score)) FROM item;
SELECT grp, count(*), sum(length(body)), printf('%.6f', avg(score)) FROM item GROUP BY grp ORDER BY grp;
SELECT id, name, length(body) FROM item ORDER BY name DESC LIMIT 20;
SELECT id, grp, printf('%.9f', score) FROM item WHERE grp = 42 ORDER BY score LIMIT 20;
UPDATE item SET body = body || body, name = name || '+' WHERE id % 3 = 0;
DELETE FROM item WHERE id % 7 = 0;
SELECT substr(name, 1, 3) AS p, count(*), max(length(body)) FROM item GROUP BY p ORDER BY p;
SELECT hex(sha3_query('SELECT * FROM item ORDER BY name, id'));
SELECT grp, count(*), sum(id) FROM (SELECT id, grp, lag(grp) OVER (ORDER BY score, id) AS prev FROM item)
	WHERE grp % 10 = prev % 10 GROUP BY grp ORDER BY 2 DESC, 1 LIMIT 10;
VACUUM;
PRAGMA integrity_check;
EOF
}

shim_w_python3() {
	unset PYTHONPATH PYTHONHOME PYTHONSTARTUP PYTHONUSERBASE
	PYTHONMALLOC=malloc PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1 \
		shim_run 120 /usr/bin/python3 -s "$SHIM_INPUT/workload.py" 120000
}

shim_w_xz() {
	shim_run 120 xz -9 -T1 -c "$SHIM_INPUT/data.txt" >xz.out || return
	echo "xz -9: $(wc -c <xz.out) bytes, sha256 $(sha256sum <xz.out | cut -d' ' -f1)"
	shim_run 60 xz -d -c xz.out | sha256sum | sed 's/^/xz -d: sha256 /' || return
	rm -f xz.out
}

shim_w_gcc() {
	local rel out
	mkdir -p asm || return
	while read -r rel; do
		out=$PWD/asm/$(echo "$rel" | tr / _).s
		# shellcheck disable=SC2086
		(cd "$SHIM_INPUT/src" && shim_run 60 gcc $SHIM_GCC_FLAGS -S -o "$out" "$rel" </dev/null) || return
		echo "== $rel"
		cat "$out"
	done <"$SHIM_INPUT/gcc-files"
	[ -s "$SHIM_INPUT/gcc-files" ] || { echo "no C file compiles on the host" && return 1; }
}

shim_w_sqlite3() {
	shim_run 90 sqlite3 -batch -bail :memory: <"$SHIM_INPUT/workload.sql"
}

shim_w_sort() {
	local data=$SHIM_INPUT/data.txt
	shim_run 60 sort --parallel=2 -T . "$data" | sha256sum | sed 's/^/sort: /' || return
	shim_run 60 sort --parallel=2 -T . -t ' ' -k2,2 -k1,1nr "$data" | sha256sum |
		sed 's/^/sort -k2,2 -k1,1nr: /' || return
}

shim_w_git() {
	local g pack
	if [ -f "$SHIM_INPUT/no-git" ]; then
		cat "$SHIM_INPUT/no-git"
		return 77
	fi
	if [ -f "$SHIM_INPUT/git-error" ]; then
		echo "cannot snapshot the checkout: $(cat "$SHIM_INPUT/git-error")"
		return 1
	fi
	export HOME=$PWD GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0
	g=(git -C clone)
	shim_run 60 git clone -q --no-local "$SHIM_INPUT/repo.git" clone || return
	echo "== log --stat"
	shim_run 60 "${g[@]}" log --all --stat --format=fuller || return
	echo "== log -p"
	shim_run 60 "${g[@]}" log -p -n 30 --format=raw || return
	shim_run 120 "${g[@]}" -c pack.threads=1 -c gc.auto=0 gc -q || return
	echo "== fsck"
	shim_run 60 "${g[@]}" fsck --full --strict || return
	echo "== count-objects"
	shim_run 60 "${g[@]}" count-objects -v || return
	for pack in clone/.git/objects/pack/*.idx; do
		echo "== verify-pack ${pack##*/}"
		shim_run 60 "${g[@]}" verify-pack -v "${pack#clone/}" || return
	done
}

shim_w_dtc() {
	local dtb found=0
	while IFS= read -r -d '' dtb; do
		found=1
		echo "== ${dtb#./}"
		(cd "$SHIM_INPUT/dtb" && shim_run 20 dtc -q -I dtb -O dts "$dtb" </dev/null) || return
	done < <(cd "$SHIM_INPUT/dtb" && find . -name '*.dtb' -print0 | sort -z)
	[ $found = 1 ] || { echo "no DTBs under \$O/host/dtb (make host-tests)" && return 1; }
}

shim_workload() { # NAME DIR
	local name=$1 dir=$2 rc
	(
		cd "$dir" || exit 1
		export LC_ALL=C TZ=UTC SHIM_FAILED=$dir/.failed
		: >"$SHIM_FAILED"
		"shim_w_$name" </dev/null
		rc=$?
		cat "$SHIM_FAILED"
		[ $rc = 77 ] && exit 77
		[ -s "$SHIM_FAILED" ] || [ $rc != 0 ] && exit 1
		exit 0
	)
}
