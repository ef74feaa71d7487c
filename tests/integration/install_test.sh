#!/usr/bin/env bash
# Install test: what an outside program sees of the INSTALLED library.
#
#   install_test.sh BUILD_DIR SOURCE_DIR [EXTRA_CFLAGS [servers]]
#
# 1. `cmake --install BUILD_DIR --prefix <temp>`; the layout (headers,
#    shared + static library, docstore.pc, CMake package files).
# 2. The shared library: SONAME libdocstore.so.0; it exports docstore_*
#    functions only (no docstore__ internals, no other names), and every
#    function the public headers declare.  The static archive defines no
#    global name outside docstore_* / docstore__*.
# 3. The examples (SOURCE_DIR/examples) built against the installed copy
#    with pkg-config (examples/Makefile, shared and STATIC=1) and with
#    find_package(docstore) (examples/CMakeLists.txt, shared and static),
#    then run without LD_LIBRARY_PATH, their output checked.
# EXTRA_CFLAGS go to the example builds (the sanitizer flags of an
# instrumented library).
#
# With `servers` as 4th argument (under tools/with-test-servers.sh: S3_*,
# DATABASE_URL): steps 1-2, the pkg-config build only, then the examples
# that need servers: direct_usage on S3 (a presigned URL) and
# migrate_progress local -> S3 -> local on a database of its own.  Without
# those variables it fails.
set -euo pipefail

build=$(realpath "${1:?usage: install_test.sh BUILD_DIR SOURCE_DIR [EXTRA_CFLAGS]}")
src=$(realpath "${2:?usage: install_test.sh BUILD_DIR SOURCE_DIR [EXTRA_CFLAGS]}")
extra_cflags=${3:-}
mode=${4:-local}
case $mode in
  local) ;;
  servers)
    for v in S3_BUCKET S3_ENDPOINT_URL DATABASE_URL; do
      [ -n "${!v:-}" ] || { echo "FAIL: $v is not set: run under tools/with-test-servers.sh" >&2; exit 1; }
    done ;;
  *) echo "install_test.sh: unknown mode '$mode'" >&2; exit 2 ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/docstore-install-test.XXXXXX")
# DOCSTORE_TEST_KEEP=1 keeps the folder (installed tree, builds, outputs)
cleanup_tmp() {
  if [ "${DOCSTORE_TEST_KEEP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup_tmp EXIT
prefix=$tmp/prefix
failures=0

say() { printf '== %s\n' "$*"; }
bad() { printf 'FAIL: %s\n' "$*" >&2; failures=$((failures + 1)); }
die() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

# ------------------------------------------------------------------ install
say "cmake --install into $prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; die "cmake --install failed"; }

pc=$(find "$prefix" -name docstore.pc -path '*/pkgconfig/*' | head -n 1)
[ -n "$pc" ] || die "docstore.pc not installed"
libdir=$(dirname "$(dirname "$pc")")
for f in include/docstore/docstore.h include/docstore/common.h \
         include/docstore/sys/provider.h; do
  [ -f "$prefix/$f" ] || bad "$f not installed"
done
for f in libdocstore.so libdocstore.so.0 libdocstore.a \
         cmake/docstore/docstoreConfig.cmake \
         cmake/docstore/docstoreConfigVersion.cmake \
         cmake/docstore/docstoreTargets.cmake; do
  [ -e "$libdir/$f" ] || bad "${libdir#"$prefix"/}/$f not installed"
done
# every public header, and nothing else, under include/
(cd "$src/include" && find . -type f | sort) >"$tmp/headers.src"
(cd "$prefix/include" && find . -type f | sort) >"$tmp/headers.inst"
diff -u "$tmp/headers.src" "$tmp/headers.inst" ||
  bad "installed headers differ from include/ of the source tree"
if [ -x "$build/docstore" ] && [ ! -x "$prefix/bin/docstore" ]; then
  bad "the docstore CLI was built but not installed"
fi
# The installed CLI finds the installed library by its RUNPATH
# ($ORIGIN/../lib...), without LD_LIBRARY_PATH or ldconfig.
if [ -x "$prefix/bin/docstore" ]; then
  readelf -d "$prefix/bin/docstore" | grep 'R.*PATH.*\$ORIGIN/' >/dev/null ||
    bad "the installed CLI has no \$ORIGIN-relative RUNPATH"
  if ! cli_ver=$(env -u LD_LIBRARY_PATH "$prefix/bin/docstore" version 2>&1); then
    bad "the installed CLI does not run without LD_LIBRARY_PATH: $cli_ver"
  else
    loaded=$(env -u LD_LIBRARY_PATH ldd "$prefix/bin/docstore" |
      sed -n 's/^[[:space:]]*libdocstore\.so\.0 => \([^ ]*\) .*/\1/p')
    [ -n "$loaded" ] && [ "$(realpath "$loaded")" = "$(realpath "$libdir/libdocstore.so.0")" ] ||
      bad "the installed CLI loads '${loaded}', not $libdir/libdocstore.so.0"
  fi
fi

# ------------------------------------------------------- shared library ABI
so=$libdir/libdocstore.so
say "SONAME and exported symbols of $(basename "$(readlink -f "$so")")"
soname=$(readelf -d "$so" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
[ "$soname" = libdocstore.so.0 ] || bad "SONAME is '$soname', expected libdocstore.so.0"
[ "$(readlink -f "$libdir/libdocstore.so.0")" = "$(readlink -f "$so")" ] ||
  bad "libdocstore.so.0 and libdocstore.so are different files"

nm -D --defined-only "$so" | awk '{print $NF}' | sort -u >"$tmp/exports"
[ -s "$tmp/exports" ] || die "no exported symbols"
# Names an instrumented (-fsanitize) build adds by itself are not ours.
grep -Ev '^(__asan_|__odr_asan|__ubsan_|__sanitizer_|__lsan_)' "$tmp/exports" \
  >"$tmp/exports.ours" || true
if grep -E '^docstore__' "$tmp/exports.ours" >"$tmp/internal"; then
  bad "internal docstore__ symbols exported: $(tr '\n' ' ' <"$tmp/internal")"
fi
if grep -Ev '^docstore_[a-z0-9]' "$tmp/exports.ours" >"$tmp/foreign"; then
  bad "non-docstore symbols exported: $(tr '\n' ' ' <"$tmp/foreign")"
fi
# every function a public header declares is exported
cat "$src"/include/docstore/*.h "$src"/include/docstore/sys/*.h |
  perl -0777 -ne 'while (/DOCSTORE_EXTERN\b[^;(]*?\b(docstore_\w+)\s*\(/g) { print "$1\n" }' |
  sort -u >"$tmp/declared"
[ -s "$tmp/declared" ] || die "found no DOCSTORE_EXTERN declaration in the headers"
comm -23 "$tmp/declared" "$tmp/exports" >"$tmp/missing"
if [ -s "$tmp/missing" ]; then
  bad "declared in the headers but not exported: $(tr '\n' ' ' <"$tmp/missing")"
fi
echo "$(wc -l <"$tmp/exports.ours") exported, $(wc -l <"$tmp/declared") declared"

nm --defined-only -g "$libdir/libdocstore.a" 2>/dev/null |
  awk 'NF == 3 {print $3}' | sort -u >"$tmp/archive"
grep -Ev '^(__asan_|__odr_asan|__ubsan_|__sanitizer_|__lsan_)' "$tmp/archive" |
  grep -Ev '^docstore_' >"$tmp/archive.foreign" || true
if [ -s "$tmp/archive.foreign" ]; then
  bad "libdocstore.a defines global names outside docstore_*: $(tr '\n' ' ' <"$tmp/archive.foreign")"
fi

# -------------------------------------------------------- build the examples
export PKG_CONFIG_PATH=$libdir/pkgconfig
version=$(sed -n 's/^#define DOCSTORE_VERSION_STRING "\(.*\)"/\1/p' \
  "$prefix/include/docstore/common.h")
[ "$(pkg-config --modversion docstore)" = "$version" ] ||
  bad "pkg-config --modversion docstore is not $version"
echo "pkg-config --cflags --libs docstore: $(pkg-config --cflags --libs docstore)"

examples=()
for f in "$src"/examples/*.c; do examples+=("$(basename "$f" .c)"); done
for e in quickstart direct_usage fallback custom_provider; do
  [ -f "$src/examples/$e.c" ] || bad "examples/$e.c is missing"
done

say "examples with pkg-config (examples/Makefile)"
builds=("$tmp/make")
mkdir -p "$tmp/make"
make -s -C "$tmp/make" -f "$src/examples/Makefile" \
  CFLAGS="-O2 -g -Werror $extra_cflags" LDFLAGS="$extra_cflags" ||
  die "examples do not build with pkg-config"
if [ "$mode" = local ]; then
  builds+=("$tmp/make-static")
  mkdir -p "$tmp/make-static"
  make -s -C "$tmp/make-static" -f "$src/examples/Makefile" STATIC=1 \
    CFLAGS="-O2 -g -Werror $extra_cflags" LDFLAGS="$extra_cflags" ||
    die "examples do not build with pkg-config --static"

  say "examples with find_package(docstore) (examples/CMakeLists.txt)"
  for kind in shared static; do
    static=OFF
    [ $kind = static ] && static=ON
    builds+=("$tmp/cmake-$kind")
    (
      unset PKG_CONFIG_PATH
      cmake -S "$src/examples" -B "$tmp/cmake-$kind" \
        -DCMAKE_PREFIX_PATH="$prefix" -DDOCSTORE_EXAMPLES_STATIC=$static \
        -DCMAKE_C_FLAGS="-Werror $extra_cflags" \
        -DCMAKE_EXE_LINKER_FLAGS="$extra_cflags" >"$tmp/cmake-$kind.log" 2>&1 &&
        cmake --build "$tmp/cmake-$kind" >>"$tmp/cmake-$kind.log" 2>&1
    ) || { cat "$tmp/cmake-$kind.log" >&2; die "examples do not build with find_package ($kind)"; }
  done
fi

# ------------------------------------------------------------ run them
# expect OUTPUT_FILE PATTERN...: every extended regex must match a line.
expect() {
  local out=$1 pat
  shift
  for pat in "$@"; do
    grep -Eq -- "$pat" "$out" || { bad "$(basename "$out"): no line matches '$pat'"; return 1; }
  done
}

# run DIR NAME [ARGS...]: run an example; its output goes to the file $out.
run() {
  local dir=$1 name=$2
  shift 2
  out=$tmp/out/$(basename "$dir")-$name${1:+-$(basename "$1")}
  mkdir -p "$tmp/out"
  if ! env -u LD_LIBRARY_PATH "$dir/$name" "$@" >"$out" 2>&1; then
    cat "$out" >&2
    bad "$(basename "$dir")/$name exited non-zero"
    return 1
  fi
  echo "ran  $(basename "$dir")/$name $*"
}

# psql on the test database (servers mode)
sql() { psql -X -q -v ON_ERROR_STOP=1 -At "$db_url" -c "$1"; }

# migrate_progress DIR WORK: legacy files -> S3 -> local filesystem, on a
# database of its own (the migration lock is per database, so parallel
# migration tests do not get in the way).  Ids and user ids are unique to
# this run: the bucket is shared with other tests.
migrate_round_trip() {
  local dir=$1 work=$2 envelope=$3 base=$(( ($$ % 100000) * 1000 + 7 ))
  local db=docstore_install_$$ n
  psql -X -q -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "CREATE DATABASE $db" ||
    { bad "cannot create database $db"; return 1; }
  created_db=$db
  db_url=${DATABASE_URL%/*}/$db
  sql "CREATE SCHEMA document" || return 1
  for t in attachment attachment_staging; do
    sql "CREATE TABLE document.$t (id INTEGER PRIMARY KEY, filename TEXT,
           filepath VARCHAR(1000), user_id INTEGER,
           created_at TIMESTAMP NOT NULL DEFAULT now())" || return 1
  done
  mkdir -p -m 700 "$work/store" "$work/store/legacy"
  for n in 1 2 3; do cp "$envelope" "$work/store/legacy/$n.json"; done
  sql "INSERT INTO document.attachment (id, filename, filepath, user_id) VALUES
         ($base + 1, 'passport.pdf', 'legacy/1.json', $base),
         ($base + 2, 'licence.pdf', '$work/store/legacy/2.json', $base)" ||
    return 1
  sql "INSERT INTO document.attachment_staging (id, filename, filepath, user_id)
         VALUES ($base + 3, 'template.pdf', 'legacy/3.json', NULL)" || return 1

  export DATABASE_URL=$db_url LOCAL_STORAGE_PATH=$work/store
  if run "$dir" migrate_progress s3; then
    expect "$out" '^schema: storage_path and storage_type columns present$' \
      '^progress: 3/3 \(100%\) 3 ok, 0 failed, 0 skipped' 'MIGRATION REPORT' \
      '^Total files: 3$' 'Successful: 3$' 'Failed: 0$' '^migrate_progress: OK$' || true
  fi
  n=$(sql "SELECT count(*) FROM (SELECT storage_type, storage_path FROM document.attachment
             UNION ALL SELECT storage_type, storage_path FROM document.attachment_staging) r
           WHERE storage_type = 's3' AND storage_path LIKE 'documents/%'")
  [ "$n" = 3 ] || bad "migrate_progress s3: $n of 3 rows switched to s3"
  if run "$dir" migrate_progress local; then
    expect "$out" 'Successful: 3$' 'Failed: 0$' '^migrate_progress: OK$' || true
  fi
  n=0
  while IFS='|' read -r type path; do
    s3_paths+=("$path") # the S3 copies stay: removed by cleanup_servers
    if [ "$type" = local ] && [ -f "$work/store/$path" ] &&
       cmp -s "$envelope" "$work/store/$path"; then
      n=$((n + 1))
    fi
  done < <(sql "SELECT storage_type, storage_path FROM document.attachment
                UNION ALL SELECT storage_type, storage_path FROM document.attachment_staging")
  [ "$n" = 3 ] || bad "migrate_progress local: $n of 3 documents back on the local filesystem"
}

cleanup_servers() {
  if [ -n "${created_db:-}" ]; then
    psql -X -q "$admin_url" -c "DROP DATABASE IF EXISTS $created_db" >/dev/null 2>&1 || true
  fi
  # the objects the migration left in the shared bucket
  if [ ${#s3_paths[@]} -gt 0 ] && [ -x "$prefix/bin/docstore" ]; then
    STORAGE_TYPE=s3 "$prefix/bin/docstore" rm "${s3_paths[@]}" >/dev/null 2>&1 || true
  fi
}

today=$(date -u +%Y/%m/%d)
admin_url=${DATABASE_URL:-}
created_db=
s3_paths=()
for dir in "${builds[@]}"; do
  kind=$(basename "$dir")
  say "run the examples built in $kind"
  for e in "${examples[@]}"; do
    [ -x "$dir/$e" ] || bad "$kind/$e was not built"
  done
  case $kind in
    *static)
      if ldd "$dir/quickstart" | grep libdocstore >/dev/null; then
        bad "$kind/quickstart is linked to the shared libdocstore"
      fi ;;
    *)
      ldd "$dir/quickstart" | grep "libdocstore.so.0 => $libdir/" >/dev/null ||
        bad "$kind/quickstart does not load libdocstore.so.0 from $libdir (rpath)" ;;
  esac

  work=$tmp/work-$kind
  mkdir -p "$work"
  stored=$work/qs/documents/user_123/$today/1_passport.pdf_pdf.json

  if run "$dir" quickstart "$work/qs"; then
    expect "$out" '^stored passport\.pdf' '^quickstart: OK$' \
      "^storage path on disk: $work/qs/documents/user_123/$today/1_passport\.pdf_pdf\.json$" || true
    if [ ! -f "$stored" ]; then
      bad "$kind/quickstart: $stored not on disk"
    elif grep -q 'passport scan' "$stored"; then
      bad "$kind/quickstart: the stored file holds the plaintext"
    elif [ "$(head -c 4 "$stored" | od -An -tx1 | tr -d ' \n')" != 89445345 ]; then
      bad "$kind/quickstart: the stored file is not a v2 envelope (FORMAT.md's magic)"
    fi
  fi

  if [ "$mode" = servers ]; then
    if STORAGE_TYPE=s3 run "$dir" direct_usage; then
      expect "$out" '^storage service: s3$' \
        '^store_encrypted_document -> documents/user_456/[0-9]{4}/[0-9]{2}/[0-9]{2}/123_document\.pdf_pdf\.json$' \
        '^retrieve_encrypted_document -> [0-9]+ bytes, identical' \
        '^get_download_url -> https?://.*X-Amz-Signature=' \
        '^delete_document -> deleted' '^direct_usage: OK$' || true
    fi
    if [ ! -f "$src/examples/migrate_progress.c" ]; then
      bad "examples/migrate_progress.c is missing"
    elif [ -f "$stored" ]; then
      trap 'cleanup_servers; cleanup_tmp' EXIT
      migrate_round_trip "$dir" "$work/mig" "$stored" ||
        bad "migration round trip: a step failed"
    fi
    continue
  fi

  if STORAGE_TYPE=local LOCAL_STORAGE_PATH=$work/du run "$dir" direct_usage; then
    expect "$out" '^storage service: local$' \
      '^store_encrypted_document -> documents/user_456/[0-9]{4}/[0-9]{2}/[0-9]{2}/123_document\.pdf_pdf\.json$' \
      '^retrieve_encrypted_document -> [0-9]+ bytes, identical' \
      '^get_download_url -> unsupported by the local provider \(DOCSTORE_EUNSUPPORTED\)' \
      '^delete_document -> deleted' '^direct_usage: OK$' || true
  fi

  # failures are reported and give a non-zero exit status
  if STORAGE_TYPE=floppy "$dir/direct_usage" >"$tmp/neg.out" 2>&1; then
    bad "$kind/direct_usage accepted STORAGE_TYPE=floppy"
  else
    expect "$tmp/neg.out" 'STORAGE_TYPE' '^direct_usage: FAILED$' || true
  fi
  if "$dir/quickstart" /proc/docstore-no-such-root >"$tmp/neg.out" 2>&1; then
    bad "$kind/quickstart succeeded with an unusable storage root"
  else
    expect "$tmp/neg.out" '^quickstart: docstore_local_provider_new: ' '^quickstart: FAILED$' || true
  fi

  if run "$dir" fallback "$work/fb"; then
    expect "$out" '^retrieve_encrypted_document\(.*\) -> DOCSTORE_E' \
      'log WARN: .*falling back to local' '^fell back to the legacy file' \
      '^with no legacy file either -> DOCSTORE_E' '^fallback: OK$' || true
  fi

  if run "$dir" custom_provider; then
    expect "$out" '^provider: memory' '^read back documents/user_123/.*2_license\.pdf_pdf\.json' \
      '^download url: DOCSTORE_EUNSUPPORTED' '^counters: \{' '^custom_provider: OK$' || true
  fi
done

if [ "$failures" -ne 0 ]; then
  echo "install test: $failures failure(s)" >&2
  exit 1
fi
echo "install test: all checks passed"
