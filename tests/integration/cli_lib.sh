# Helpers shared by the docstore CLI tests (cli_test.sh, cli_s3_test.sh).
# Source after setting DOCSTORE (the binary) and T (a scratch folder).
# Every failed check prints "FAIL: ..." and counts; cli_finish exits.

failures=0
out=$T/.out
err=$T/.err

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# cli_isolate: no storage, key or docstore setting from the caller's
# environment; local storage under $T/store/.
cli_isolate() {
  local name
  while IFS= read -r name; do unset "$name"; done < <(
    env | sed -n 's/^\(STORAGE_TYPE\|LOCAL_STORAGE_PATH\|S3_[A-Z_]*\|AWS_[A-Z_]*\|RSA_[A-Z_]*\|DOCSTORE_[A-Z_]*\)=.*/\1/p')
  export LOCAL_STORAGE_PATH=$T/store/
}

# run CMD...: runs the CLI, sets $rc, $out (stdout file), $err (stderr file).
run() { "$DOCSTORE" "$@" >"$out" 2>"$err"; rc=$?; }

# ok DESC CMD...: expect success.
ok() {
  local desc=$1; shift
  run "$@"
  [ "$rc" -eq 0 ] || fail "$desc: exit $rc: $(cat "$err")"
}

# bad DESC STATUS CODE CMD...: expect exit STATUS and exactly one stderr
# line "docstore: <command>: <message> (CODE)".
bad() {
  local desc=$1 status=$2 code=$3; shift 3
  run "$@"
  [ "$rc" -eq "$status" ] || fail "$desc: exit $rc, expected $status: $(cat "$err")"
  [ "$(wc -l <"$err")" -eq 1 ] || fail "$desc: stderr is not one line: $(cat "$err")"
  grep -Eq "^docstore: [a-z]+: .+ \($code\)\$" "$err" ||
    fail "$desc: stderr is not 'docstore: <cmd>: <msg> ($code)': $(cat "$err")"
}

contains() { grep -qF -- "$2" "$1" || fail "$3: '$2' not in: $(cat "$1")"; }
lacks() { ! grep -qF -- "$2" "$1" || fail "$3: '$2' must not appear"; }
mode_is() {
  [ "$(stat -c %a "$1")" = "$2" ] || fail "$1: mode $(stat -c %a "$1"), expected $2"
}

cli_finish() {
  if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)" >&2
    exit 1
  fi
  echo "$1: all checks passed"
  exit 0
}
