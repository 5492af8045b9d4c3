#!/usr/bin/env bash
# ps-bench.sh: "which processes run from which tree?" on a busy host.
#
# Installs NTREES revisions into a throw-away root, plants TOTAL processes
# (most of them bystanders, some using a tree through exactly one kind of
# evidence), then times `trees ps` against lsof and fuser with hyperfine,
# measures their peak RSS with /usr/bin/time, and scores what each one found
# against the planted set. Prints a markdown report and writes it to
# contrib/bench/results.md. See contrib/bench/README.md.
#
# Every process it starts is a direct child of this script; exactly those
# pids are killed on exit, and the temporary directory is removed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

NTREES=${NTREES:-10}          # revisions app@r0 .. app@r$((NTREES-1))
PER_KIND=${PER_KIND:-3}       # planted users per evidence kind per tree
DECOYS=${DECOYS:-10}          # near misses (counted as bystanders)
TOTAL=${TOTAL:-1000}          # processes this script plants, bystanders included
RUNS=${RUNS:-10}
WARMUP=${WARMUP:-2}
RSS_RUNS=${RSS_RUNS:-3}       # /usr/bin/time runs per tool; the largest RSS is kept
HOLD=${HOLD:-900}             # how long planted processes would sleep (s)
RESULTS=${RESULTS:-$HERE/results.md}

if [[ -z ${TREES:-} ]]; then
    for c in "$REPO/.build-bench/release/trees" "$REPO/.build/release/trees"; do
        [[ -x $c ]] && { TREES=$c; break; }
    done
    TREES=${TREES:-$(command -v trees || true)}
fi
LSOF=${LSOF:-/usr/bin/lsof}
FUSER=${FUSER:-/usr/bin/fuser}
GNUTIME=${GNUTIME:-/usr/bin/time}
# The interpreter itself, not a wrapper (a pyenv shim would add a bash and a
# second of start-up per job).
PYTHON=${PYTHON:-$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null || true)}

die() { echo "ps-bench: $*" >&2; exit 1; }
log() { echo "ps-bench: $*" >&2; }

[[ -n $TREES && -x $TREES ]] || die "no trees binary; build it (swift build -c release --product trees) or set TREES="
[[ -x $LSOF ]] || die "lsof not found at $LSOF (apt-get install lsof)"
[[ -x $FUSER ]] || die "fuser not found at $FUSER (apt-get install psmisc)"
[[ -x $GNUTIME ]] || die "GNU time not found at $GNUTIME (apt-get install time)"
[[ -n $PYTHON && -x $PYTHON ]] || die "python3 not found (set PYTHON=)"
unset TREES_TREE TREES_TREE_PATH TREES_LEASE   # planted processes inherit our environment
for t in hyperfine jq find xargs awk; do command -v "$t" >/dev/null || die "$t not found"; done

KINDS=(cwd fd exe cmdline environ lease)
PLANTED=$((NTREES * ${#KINDS[@]} * PER_KIND))
BYSTANDERS=$((TOTAL - PLANTED - DECOYS))
((BYSTANDERS >= 0)) || die "TOTAL=$TOTAL is smaller than the $PLANTED planted users plus $DECOYS decoys"

# Limits: only raised when too low for what we plant.
need=$((TOTAL + 512))
if [[ $(ulimit -u) != unlimited ]] && (($(ulimit -u) < need)); then
    ulimit -u "$need" 2>/dev/null || die "ulimit -u is $(ulimit -u), need $need"
fi
pid_max=$(cat /proc/sys/kernel/pid_max)
(($(ls /proc | grep -c '^[0-9]') + need < pid_max)) || die "kernel.pid_max ($pid_max) too low for $TOTAL more processes"

# --- scratch space and clean-up ------------------------------------------------

WORK=$(mktemp -d -t trees-bench.XXXXXX)
ROOT=$WORK/root     # the trees root; nothing else lives under it
SRC=$WORK/src       # sources the revisions are installed from
OUT=$WORK/out       # tool outputs
CMD=$WORK/cmd       # one small script per measured command (see below)
mkdir -p "$SRC" "$OUT" "$CMD"
SPAWNLOG=$WORK/spawn.log

PIDS=()
cleanup() {
    local rc=$? p st killed=0
    trap - EXIT INT TERM
    for p in "${PIDS[@]}"; do
        # Only a live process whose parent is still this script is ours.
        [[ -r /proc/$p/stat ]] || continue
        read -r st < "/proc/$p/stat" 2>/dev/null || continue
        st=${st##*) }
        set -- $st
        if [[ $2 == "$$" ]]; then kill -TERM "$p" 2>/dev/null && killed=$((killed + 1)); fi
    done
    ((${#PIDS[@]} == 0)) || wait "${PIDS[@]}" 2>/dev/null || true
    local left=0
    for p in "${PIDS[@]}"; do
        if [[ -r /proc/$p/stat ]]; then
            read -r st < "/proc/$p/stat" 2>/dev/null || continue
            st=${st##*) }; set -- $st
            [[ $2 == "$$" ]] && left=$((left + 1))
        fi
    done
    chmod -R u+w "$WORK" 2>/dev/null || true   # installed trees are read-only
    rm -rf "$WORK"
    log "clean-up: stopped $killed of ${#PIDS[@]} planted processes, $left left, removed $WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- 1. install the trees ------------------------------------------------------

TREE_PATHS=()
for ((k = 0; k < NTREES; k++)); do
    s=$SRC/r$k
    mkdir -p "$s/lib" "$s/bin" "$s/etc"
    echo "r$k" > "$s/VERSION"
    for f in 0 1 2 3; do printf 'data %s %s\n' "$k" "$f" > "$s/lib/f$f"; done
    echo "threads = 4" > "$s/etc/app.ini"
    printf 'import time\ntime.sleep(%s)\n' "$HOLD" > "$s/job.py"
    cp "$(command -v sleep)" "$s/bin/sleep"    # a "compiled job" for exe evidence
    "$TREES" install --root "$ROOT" "app@r$k" "$s" >/dev/null
    TREE_PATHS+=("$ROOT/app/r$k")
done
"$TREES" activate --root "$ROOT" "app@r$((NTREES - 1))" >/dev/null
log "installed $NTREES trees under $ROOT"

# --- 2. plant processes --------------------------------------------------------

cd /
EXPECTED=$WORK/expected   # "pid tree kind"
: > "$EXPECTED"
: > "$SPAWNLOG"
declare -A WANT_COMM      # pid -> comm once the process is in place

spawn() {  # spawn COMM CMD...: start CMD in the background, remember its pid
    local comm=$1; shift
    "$@" </dev/null >/dev/null 2>>"$SPAWNLOG" &
    PIDS+=($!)
    WANT_COMM[$!]=$comm
    LAST=$!
}

settle() {  # wait until every pid started so far has exec'd into its job
    local deadline=$((SECONDS + 60)) p c pending
    while :; do
        pending=0
        for p in "${!WANT_COMM[@]}"; do
            [[ -d /proc/$p ]] || die "planted pid $p died early: $(tail -3 "$SPAWNLOG")"
            c=; read -r c < "/proc/$p/comm" 2>/dev/null || true
            if [[ $c == "${WANT_COMM[$p]}" ]]; then
                unset "WANT_COMM[$p]"
            else
                pending=$((pending + 1))
            fi
        done
        ((pending == 0)) && return 0
        ((SECONDS < deadline)) || die "$pending planted processes did not settle"
        sleep 0.1
    done
}

PYCOMM=$(basename "$PYTHON"); PYCOMM=${PYCOMM:0:15}
for ((k = 0; k < NTREES; k++)); do
    T=$ROOT/app/r$k
    for ((i = 0; i < PER_KIND; i++)); do
        # cwd inside the tree (without the PWD a shell would export, which
        # would add environ evidence)
        spawn sleep sh -c 'cd "$1" && exec env -u PWD -u OLDPWD sleep "$2"' sh "$T" "$HOLD"
        echo "$LAST app@r$k cwd" >> "$EXPECTED"
        # an open file of the tree, cwd elsewhere
        spawn sleep sh -c 'exec 7<"$1/lib/f0"; cd / && exec sleep "$2"' sh "$T" "$HOLD"
        echo "$LAST app@r$k fd" >> "$EXPECTED"
        # the executable itself comes from the tree (argv[0] "sleep", so that
        # the path shows only in exe and maps, not in cmdline or $_)
        spawn sleep "$PYTHON" -c 'import os, sys; os.execv(sys.argv[1], ["sleep", sys.argv[2]])' "$T/bin/sleep" "$HOLD"
        echo "$LAST app@r$k exe" >> "$EXPECTED"
        # an interpreted job: the tree is named only by argv (python closes the script)
        spawn "$PYCOMM" "$PYTHON" "$T/job.py"
        echo "$LAST app@r$k cmdline" >> "$EXPECTED"
        # only the environment marker trees exec would set
        spawn sleep env "TREES_TREE=app@r$k" "TREES_ROOT=$ROOT" sleep "$HOLD"
        echo "$LAST app@r$k environ" >> "$EXPECTED"
        # a leased job (trees exec), left in cwd / so the lease (and its
        # environment marker) is the only evidence
        spawn sleep "$TREES" exec --root "$ROOT" --no-chdir "app@r$k" -- sleep "$HOLD"
        echo "$LAST app@r$k lease" >> "$EXPECTED"
        settle   # one batch at a time keeps lease takers from piling up on SQLite
    done
done

# Decoys: near misses that use no tree and must not be reported.
for ((i = 0; i < DECOYS; i++)); do
    case $((i % 2)) in
        0) spawn sleep sh -c 'cd "$1" && exec sleep "$2"' sh "$SRC/r$((i % NTREES))" "$HOLD" ;;  # the install source
        1) spawn sleep env "TREES_TREE=app@r$((i % NTREES))" TREES_ROOT=/srv/elsewhere sleep "$HOLD" ;;  # another root's marker
    esac
done
for ((i = 0; i < BYSTANDERS; i++)); do
    sleep "$HOLD" </dev/null >/dev/null 2>&1 &
    PIDS+=($!)
    WANT_COMM[$!]=sleep
done
settle
NPROC_TOTAL=$(ls /proc | grep -c '^[0-9]')
log "planted $PLANTED users, $DECOYS decoys and $BYSTANDERS bystanders; $NPROC_TOTAL processes on the host"

# --- 3. the commands -----------------------------------------------------------
# Each command lives in a small script under $WORK/cmd, so that hyperfine's and
# time's own argv never name a tree path (trees ps reads every argv), and each
# prints its whole answer on stdout.

q() { printf '%q ' "$@"; }
TP=$(q "${TREE_PATHS[@]}")
cat > "$CMD/trees.sh" <<EOF
TREES_IGNORE_UNKNOWN_PIDS=1 exec $(q "$TREES") ps --root $(q "$ROOT") --json
EOF
cat > "$CMD/lsof.sh" <<EOF
exec $(q "$LSOF") +D $(q "$ROOT") 2>/dev/null
EOF
cat > "$CMD/fuser-dirs.sh" <<EOF
exec $(q "$FUSER") -v $TP 2>&1
EOF
cat > "$CMD/fuser-loop.sh" <<EOF
for t in $TP; do $(q "$FUSER") -v "\$t"; done 2>&1
EOF
cat > "$CMD/fuser-files.sh" <<EOF
find $TP -print0 | xargs -0 $(q "$FUSER") -v 2>&1
EOF
cat > "$CMD/fuser-m.sh" <<EOF
exec $(q "$FUSER") -v -m $(q "$ROOT") 2>&1
EOF

TOOLS=(trees lsof fuser-dirs fuser-loop fuser-files fuser-m)
declare -A LABEL=(
    [trees]="trees ps --json"
    [lsof]="lsof +D ROOT"
    [fuser-dirs]="fuser -v ROOT/app/r* (one call)"
    [fuser-loop]="fuser -v, one call per tree"
    [fuser-files]="fuser -v on every file (find, xargs)"
    [fuser-m]="fuser -v -m ROOT"
)

# --- 4. correctness: one run of each, scored against the planted set ----------

tree_of='function treeof(path,   rest, n, a) {
    if (index(path, root "/") != 1) return "-"
    rest = substr(path, length(root) + 2); n = split(rest, a, "/")
    if (n < 2 || a[2] == "current" || a[1] ~ /^\./) return "-"
    return a[1] "@" a[2]
}'

parse() {  # parse TOOL < output > "pid tree" lines
    case $1 in
        trees) jq -r '.processes[] | "\(.pid) \(.tree.name)@\(.tree.rev)"' ;;
        lsof) awk -v root="$ROOT" "$tree_of"'
              NR > 1 && $2 ~ /^[0-9]+$/ { print $2, treeof($NF) }' ;;
        fuser-*) awk -v root="$ROOT" "$tree_of"'
              /^\// { p = index($0, ":"); path = substr($0, 1, p - 1); $0 = substr($0, p + 1) }
              NF >= 4 && $2 ~ /^[0-9]+$/ { print $2, treeof(path) }' ;;
    esac | sort -u
}

score() {  # score TOOL MODE: MODE "tree" needs the right tree, "pid" the pid only
    awk -v mode="$2" -v kinds="${KINDS[*]}" '
        FNR == NR { want[$1] = $2; kind[$1] = $3; n++; next }
        { seen[$1] = 1; if (($1 in want) && $2 == want[$1]) hit[$1] = 1 }
        END {
            for (p in want) {
                if ((p in hit) || (mode == "pid" && (p in seen))) { found++; kf[kind[p]]++ }
                else if (p in seen) wrong++
                else missed++
            }
            for (p in seen) if (!(p in want)) fp++
            line = sprintf("%d %d %d %d %d", n, found, missed, wrong, fp)
            split(kinds, K, " ")
            for (i = 1; i in K; i++) line = line " " (kf[K[i]] + 0)
            print line
        }' "$EXPECTED" "$OUT/$1.pairs"
}

declare -A SCORE
for t in "${TOOLS[@]}"; do
    sh "$CMD/$t.sh" > "$OUT/$t.out" || true   # lsof/fuser exit 1 when some name has no user
    parse "$t" < "$OUT/$t.out" > "$OUT/$t.pairs"
    mode=tree; [[ $t == fuser-m ]] && mode=pid
    SCORE[$t]=$(score "$t" "$mode")
done
UNKNOWN=$(jq '[.unknown[] | select(.ignored | not)] | length' "$OUT/trees.out")
IGNORED=$(jq '[.unknown[] | select(.ignored)] | length' "$OUT/trees.out")
# What evidence trees gave for each planted kind.
EVIDENCE=$(jq -r '.processes[] | "\(.pid) \(.evidence | join(","))"' "$OUT/trees.out" |
    awk 'FNR == NR { kind[$1] = $3; next } ($1 in kind) { c[kind[$1] " " $2]++ }
         END { for (x in c) print x, c[x] }' "$EXPECTED" - | sort)

# --- 5. time and memory --------------------------------------------------------

log "timing with hyperfine ($WARMUP warm-up, $RUNS runs each)"
hf=()
for t in "${TOOLS[@]}"; do hf+=(-n "${LABEL[$t]}" "sh $CMD/$t.sh"); done
hyperfine -N -i --warmup "$WARMUP" --runs "$RUNS" --style basic \
    --export-json "$OUT/hyperfine.json" --export-markdown "$OUT/hyperfine.md" "${hf[@]}" >&2

declare -A RSS
for t in "${TOOLS[@]}"; do
    max=0
    for ((r = 0; r < RSS_RUNS; r++)); do
        "$GNUTIME" -v -o "$OUT/$t.time" sh "$CMD/$t.sh" >/dev/null 2>&1 || true
        kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$OUT/$t.time")
        ((kb > max)) && max=$kb
    done
    RSS[$t]=$max
done

# --- 6. report -----------------------------------------------------------------

fmt_time() { awk -v s="$1" -v d="$2" 'BEGIN { printf "%.1f ms ± %.1f", s * 1000, d * 1000 }'; }
fmt_mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }

REPORT=$WORK/report.md
{
    echo "# trees ps vs lsof / fuser: which processes run from which tree"
    echo
    echo "One run of \`contrib/bench/ps-bench.sh\`, $(date -u '+%Y-%m-%d %H:%M UTC')."
    echo
    echo "- machine: $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), kernel $(uname -r), $(awk '/MemTotal/ { printf "%.0f GB RAM", $2 / 1048576 }' /proc/meminfo)"
    echo "- trees $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$( [[ -n $(git -C "$REPO" status --porcelain 2>/dev/null) ]] && echo ' (uncommitted changes)'), $($LSOF -v 2>&1 | awk '/revision:/ { print "lsof " $2; exit }'), $($FUSER -V 2>&1 | head -1), $(hyperfine --version)"
    echo "- $NPROC_TOTAL processes on the host: $PLANTED planted tree users ($PER_KIND per evidence kind per tree), $DECOYS decoys, $BYSTANDERS bystanders (\`sleep\`, cwd /), the rest the host's own"
    echo "- $NTREES trees \`app@r0\`..\`app@r$((NTREES - 1))\`; each tool is asked about all of them at once; $RUNS runs after $WARMUP warm-up (hyperfine), peak RSS the largest of $RSS_RUNS runs (\`/usr/bin/time -v\`)"
    echo "- trees runs with \`TREES_IGNORE_UNKNOWN_PIDS=1\`: pid 1 of this host cannot be inspected even by root; trees reported $IGNORED ignored and $UNKNOWN other uninspectable processes"
    echo
    echo "| tool | mean time | CPU (user+sys) | peak RSS | found / expected | missed | wrong tree | false positives |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for t in "${TOOLS[@]}"; do
        read -r mean sd cpu < <(jq -r --arg n "${LABEL[$t]}" \
            '.results[] | select(.command == $n) | "\(.mean) \(.stddev) \(.user + .system)"' "$OUT/hyperfine.json")
        read -r n found missed wrong fp _ <<< "${SCORE[$t]}"
        note=""; [[ $t == fuser-m ]] && note=" ¹"
        echo "| \`${LABEL[$t]}\` | $(fmt_time "$mean" "$sd") | $(awk -v c="$cpu" 'BEGIN { printf "%.1f ms", c * 1000 }') | $(fmt_mb "${RSS[$t]}") | $found / $n$note | $missed | $wrong | $fp |"
    done
    echo
    echo "¹ \`fuser -m\` names no tree: a planted pid counts as found if it is listed at all."
    echo
    echo "Found, per kind of evidence (each planted user has exactly one; $((NTREES * PER_KIND)) of each):"
    echo
    echo "| tool | $(IFS='|'; echo "${KINDS[*]}" | sed 's/|/ | /g') |"
    echo "| --- |$(for _ in "${KINDS[@]}"; do printf ' ---: |'; done)"
    for t in "${TOOLS[@]}"; do
        read -r _ _ _ _ _ per <<< "${SCORE[$t]}"
        echo "| \`${LABEL[$t]}\` | $(echo "$per" | sed 's/ / | /g') |"
    done
    echo
    echo "Evidence \`trees ps\` gave, per planted kind (kind: evidence × count):"
    echo
    echo '```'
    echo "$EVIDENCE"
    echo '```'
    echo
    echo "hyperfine's own table:"
    echo
    cat "$OUT/hyperfine.md"
} > "$REPORT"

cp "$REPORT" "$RESULTS"
cat "$REPORT"
log "report written to $RESULTS"
