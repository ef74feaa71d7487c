#!/usr/bin/env bash
# Every test, on a fresh machine: install everything, check the format
# (clang-format), build with warnings as errors, run clang-tidy on the
# library, compare its ABI with abi/libdocstore.abi, build without the
# migration API (DOCSTORE_WITH_MIGRATE=OFF) and run its unit tests, build
# Release with gcc and with clang (warnings as errors), start
# the test servers (OpenStack Swift with s3api, PostgreSQL), run all CTest
# tests, then build again with AddressSanitizer and UndefinedBehaviorSanitizer
# and run the unit and out-of-memory tests under them, and last run each
# libFuzzer target for a bounded time.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
jobs=$(nproc)

bash tools/setup.sh

echo "== format (clang-format 14)"
bash tools/check-format.sh

echo "== build (-Wall -Wextra -Werror)"
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDOCSTORE_WERROR=ON >/dev/null
cmake --build build-test -j"$jobs"

echo "== static analysis of the library (clang-tidy, .clang-tidy)"
bash tools/tidy.sh build-test

echo "== ABI against abi/libdocstore.abi (abigail-tools)"
bash tools/abi-check.sh

echo "== build without the migration API (DOCSTORE_WITH_MIGRATE=OFF): no libpq"
cmake -S . -B build-nomigrate -DDOCSTORE_WERROR=ON -DDOCSTORE_WITH_MIGRATE=OFF \
  -DDOCSTORE_BUILD_BENCH=OFF >/dev/null
cmake --build build-nomigrate -j"$jobs"
if readelf -d build-nomigrate/libdocstore.so | grep -q 'NEEDED.*libpq'; then
  echo "test.sh: libdocstore.so built with DOCSTORE_WITH_MIGRATE=OFF links libpq" >&2
  exit 1
fi
ctest --test-dir build-nomigrate --output-on-failure -L unit -j"$jobs"

echo "== Release builds with gcc and clang (-Werror: optimiser-only warnings)"
for cc in gcc:g++ clang:clang++; do
  cmake -S . -B "build-release-${cc%%:*}" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER="${cc%%:*}" -DCMAKE_CXX_COMPILER="${cc#*:}" \
    -DDOCSTORE_WERROR=ON -DDOCSTORE_BUILD_DOCS=OFF >/dev/null
  cmake --build "build-release-${cc%%:*}" -j"$jobs"
done

echo "== all tests, with the test servers running"
bash tools/with-test-servers.sh \
  ctest --test-dir build-test --output-on-failure -j"$jobs"

echo "== unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DDOCSTORE_WERROR=ON \
  -DDOCSTORE_SANITIZE=ON -DDOCSTORE_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -L 'unit|oom' -j"$jobs"

echo "== fuzz targets, 20 s each (clang, libFuzzer, ASan+UBSan)"
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DDOCSTORE_FUZZ=ON -DDOCSTORE_WERROR=ON -DDOCSTORE_BUILD_CLI=OFF \
  -DDOCSTORE_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz -j"$jobs" --target docstore_fuzz
ctest --test-dir build-fuzz --output-on-failure -L fuzz -j"$jobs"

echo "== all test stages passed"
