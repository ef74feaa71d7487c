#!/usr/bin/env bash
# Install test: what an outside program sees of the INSTALLED library.
#
#   install_test.sh BUILD_DIR SOURCE_DIR [EXTRA_CFLAGS]
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
# instrumented library).  With STORAGE_TYPE=s3 and S3_BUCKET in the
# environment (tools/with-test-servers.sh), direct_usage also runs on S3.
set -euo pipefail

build=$(realpath "${1:?usage: install_test.sh BUILD_DIR SOURCE_DIR [EXTRA_CFLAGS]}")
src=$(realpath "${2:?usage: install_test.sh BUILD_DIR SOURCE_DIR [EXTRA_CFLAGS]}")
extra_cflags=${3:-}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/docstore-install-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
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
mkdir -p "$tmp/make" "$tmp/make-static"
make -s -C "$tmp/make" -f "$src/examples/Makefile" \
  CFLAGS="-O2 -g -Werror $extra_cflags" LDFLAGS="$extra_cflags" ||
  die "examples do not build with pkg-config"
make -s -C "$tmp/make-static" -f "$src/examples/Makefile" STATIC=1 \
  CFLAGS="-O2 -g -Werror $extra_cflags" LDFLAGS="$extra_cflags" ||
  die "examples do not build with pkg-config --static"

say "examples with find_package(docstore) (examples/CMakeLists.txt)"
for kind in shared static; do
  static=OFF
  [ $kind = static ] && static=ON
  (
    unset PKG_CONFIG_PATH
    cmake -S "$src/examples" -B "$tmp/cmake-$kind" \
      -DCMAKE_PREFIX_PATH="$prefix" -DDOCSTORE_EXAMPLES_STATIC=$static \
      -DCMAKE_C_FLAGS="-Werror $extra_cflags" \
      -DCMAKE_EXE_LINKER_FLAGS="$extra_cflags" >"$tmp/cmake-$kind.log" 2>&1 &&
      cmake --build "$tmp/cmake-$kind" >>"$tmp/cmake-$kind.log" 2>&1
  ) || { cat "$tmp/cmake-$kind.log" >&2; die "examples do not build with find_package ($kind)"; }
done

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
  out=$tmp/out/$(basename "$dir")-$name
  mkdir -p "$tmp/out"
  if ! env -u LD_LIBRARY_PATH "$dir/$name" "$@" >"$out" 2>&1; then
    cat "$out" >&2
    bad "$(basename "$dir")/$name exited non-zero"
    return 1
  fi
}

today=$(date -u +%Y/%m/%d)
for dir in "$tmp/make" "$tmp/make-static" "$tmp/cmake-shared" "$tmp/cmake-static"; do
  kind=$(basename "$dir")
  say "run the examples built in $kind"
  for e in "${examples[@]}"; do
    [ -x "$dir/$e" ] || bad "$kind/$e was not built"
  done
  case $kind in
    *static)
      if ldd "$dir/quickstart" | grep -q libdocstore; then
        bad "$kind/quickstart is linked to the shared libdocstore"
      fi ;;
    *)
      ldd "$dir/quickstart" | grep -q "libdocstore.so.0 => $libdir/" ||
        bad "$kind/quickstart does not load libdocstore.so.0 from $libdir (rpath)" ;;
  esac

  work=$tmp/work-$kind
  mkdir -p "$work"

  if run "$dir" quickstart "$work/qs"; then
    expect "$out" '^stored passport\.pdf' '^quickstart: OK$' \
      "^storage path on disk: $work/qs/documents/user_123/$today/1_passport\.pdf_pdf\.json$" || true
    stored=$work/qs/documents/user_123/$today/1_passport.pdf_pdf.json
    if [ ! -f "$stored" ]; then
      bad "$kind/quickstart: $stored not on disk"
    elif grep -q 'passport scan' "$stored"; then
      bad "$kind/quickstart: the stored file holds the plaintext"
    elif [ "$(head -c 1 "$stored")" != "{" ]; then
      bad "$kind/quickstart: the stored file is not a JSON envelope"
    fi
  fi

  if STORAGE_TYPE=local LOCAL_STORAGE_PATH=$work/du run "$dir" direct_usage; then
    expect "$out" '^storage service: local$' \
      '^store_encrypted_document -> documents/user_456/[0-9]{4}/[0-9]{2}/[0-9]{2}/123_document\.pdf_pdf\.json$' \
      '^retrieve_encrypted_document -> [0-9]+ bytes, identical' \
      '^get_download_url -> unsupported by the local provider \(DOCSTORE_EUNSUPPORTED\)' \
      '^delete_document -> deleted' '^direct_usage: OK$' || true
  fi
  if [ "${STORAGE_TYPE:-}" = s3 ] && [ -n "${S3_BUCKET:-}" ]; then
    if run "$dir" direct_usage; then
      expect "$out" '^storage service: s3$' '^get_download_url -> https?://' \
        '^direct_usage: OK$' || true
    fi
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
