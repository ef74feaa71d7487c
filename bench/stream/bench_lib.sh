# Helpers shared by the streaming benchmarks (stream_bench.sh,
# s3_bench.sh).  Source after setting ME (the script's name, for messages)
# and CLI (the docstore program).

# bench_keys DIR: a fresh RSA key pair in DIR/keys, exported as the keys
# the CLI uses.
bench_keys() {
  "$CLI" --no-env-file keygen --bits 2048 --out-dir "$1/keys" >/dev/null
  export RSA_PUBLIC_KEY_PATH=$1/keys/public.pem RSA_PRIVATE_KEY_PATH=$1/keys/private.pem
}

# make_file SIZE FILE: incompressible bytes (AES-CTR keystream), fast.
make_file() {
  # openssl ends on SIGPIPE when head has enough: judge by the size.
  { openssl enc -aes-256-ctr -nosalt -pass pass:docstore-stream-bench -pbkdf2 \
    -in /dev/zero 2>/dev/null || true; } | head -c "$1" >"$2"
  [ "$(stat -c %s "$2")" -eq "$1" ] || { echo "$ME: cannot make $2" >&2; exit 1; }
}
