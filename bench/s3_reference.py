#!/usr/bin/python3
# libdocstore - encrypted document storage.
# SPDX-License-Identifier: Apache-2.0
"""boto3 reference figures for `docstore_bench --s3`.

Does the same work as the benchmark's S3 mode, against the same server,
with boto3 (Debian's python3-boto3: run it with /usr/bin/python3):

  1. put_object + get_object of an `--ops-size`-byte object, cycling over
     64 keys, for `--seconds` seconds: operations per second and client CPU
     time (user + sys) per operation;
  2. upload then download of one `--size-mib` MiB object with boto3's
     transfer manager (upload_fileobj / download_fileobj, default
     TransferConfig: multipart above 8 MiB, 8 MiB parts, 10 threads):
     MB/s (10^6 bytes), CPU time and peak RSS during each transfer.

With --upload-file PATH or --download-file PATH (and --key KEY) it does
only that one transfer, file to object or object to file, with the same
transfer manager (upload_file / download_file), and --delete KEY removes an
object: bench/stream/s3_bench.sh times those processes beside `docstore
put` / `docstore get` (peak RSS and CPU of the whole process, measured the
same way for both clients).  --startup-only: import boto3 and make the
client, nothing else (what every boto3 process pays).

Reads the server settings from the environment as the library's factory
does: S3_BUCKET, S3_ENDPOINT_URL, S3_REGION (else AWS_REGION /
AWS_DEFAULT_REGION, else us-east-1), S3_ACCESS_KEY / S3_SECRET_KEY /
S3_SESSION_TOKEN (else AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
AWS_SESSION_TOKEN), S3_ADDRESSING_STYLE, S3_CA_BUNDLE, S3_VERIFY_TLS.
Prints one JSON object on stdout; deletes every object it wrote.
"""

import argparse
import io
import json
import os
import resource
import sys
import time

SLOTS = 64


def env(*names, default=None):
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return default


def cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def peak_rss_reset():
    """Reset the kernel's peak-RSS mark (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_rss_mib():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def make_client():
    import boto3
    from botocore.config import Config

    endpoint = env("S3_ENDPOINT_URL")
    style = env("S3_ADDRESSING_STYLE", default="auto")
    if style == "auto":
        style = "path" if endpoint else "virtual"
    verify = env("S3_CA_BUNDLE") or True
    if env("S3_VERIFY_TLS") == "false":
        verify = False
    config = Config(
        s3={"addressing_style": style},
        retries={"max_attempts": 4, "mode": "standard"},
    )
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=env("S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION",
                        default="us-east-1"),
        aws_access_key_id=env("S3_ACCESS_KEY", "AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=env("S3_SECRET_KEY", "AWS_SECRET_ACCESS_KEY"),
        aws_session_token=env("S3_SESSION_TOKEN", "AWS_SESSION_TOKEN"),
        verify=verify,
        config=config,
    )


def small_ops(client, bucket, prefix, size, seconds):
    payload = os.urandom(size)
    used = set()
    ops = 0
    t0, c0 = time.monotonic(), cpu_seconds()
    while True:
        key = "%sops/%d" % (prefix, ops % SLOTS)
        client.put_object(Bucket=bucket, Key=key, Body=payload)
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        if body != payload:
            raise RuntimeError("read back different bytes for " + key)
        used.add(key)
        ops += 1
        if time.monotonic() - t0 >= seconds:
            break
    wall, cpu = time.monotonic() - t0, cpu_seconds() - c0
    for key in used:
        client.delete_object(Bucket=bucket, Key=key)
    return {
        "ops": ops,
        "ops_per_s": ops / wall,
        "ops_cpu_us_per_op": cpu * 1e6 / ops,
    }


def large_transfer(client, bucket, prefix, size):
    data = os.urandom(size)
    key = prefix + "large.bin"
    out = {}

    peak_rss_reset()
    t0, c0 = time.monotonic(), cpu_seconds()
    client.upload_fileobj(io.BytesIO(data), bucket, key)
    wall, cpu = time.monotonic() - t0, cpu_seconds() - c0
    out["upload_mb_per_s"] = size / wall / 1e6
    out["upload_cpu_us"] = cpu * 1e6
    out["upload_peak_rss_mib"] = peak_rss_mib()

    sink = io.BytesIO()
    peak_rss_reset()
    t0, c0 = time.monotonic(), cpu_seconds()
    client.download_fileobj(bucket, key, sink)
    wall, cpu = time.monotonic() - t0, cpu_seconds() - c0
    out["download_mb_per_s"] = size / wall / 1e6
    out["download_cpu_us"] = cpu * 1e6
    out["download_peak_rss_mib"] = peak_rss_mib()

    if sink.getbuffer() != data:
        raise RuntimeError("downloaded bytes differ from the uploaded ones")
    client.delete_object(Bucket=bucket, Key=key)
    return out


def one_transfer(client, bucket, args):
    """One file transfer (or a delete), timed inside the process too."""
    t0, c0 = time.monotonic(), cpu_seconds()
    if args.upload_file:
        client.upload_file(args.upload_file, bucket, args.key)
        what = "upload"
    elif args.download_file:
        client.download_file(bucket, args.key, args.download_file)
        what = "download"
    elif args.delete:
        client.delete_object(Bucket=bucket, Key=args.delete)
        what = "delete"
    else:
        what = "startup"
    return {"client": "boto3", "what": what,
            "seconds": time.monotonic() - t0,
            "cpu_seconds": cpu_seconds() - c0,
            "peak_rss_mib": peak_rss_mib()}


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=1.5)
    ap.add_argument("--ops-size", type=int, default=4096)
    ap.add_argument("--size-mib", type=int, default=256)
    ap.add_argument("--prefix", default="bench/boto3-%d/" % os.getpid())
    ap.add_argument("--upload-file")
    ap.add_argument("--download-file")
    ap.add_argument("--key")
    ap.add_argument("--delete")
    ap.add_argument("--startup-only", action="store_true")
    args = ap.parse_args(argv)

    bucket = env("S3_BUCKET")
    if not bucket:
        print("s3_reference: S3_BUCKET is not set", file=sys.stderr)
        return 2
    client = make_client()
    if (args.upload_file or args.download_file or args.delete or
            args.startup_only):
        if (args.upload_file or args.download_file) and not args.key:
            print("s3_reference: --key is required", file=sys.stderr)
            return 2
        json.dump(one_transfer(client, bucket, args), sys.stdout)
        sys.stdout.write("\n")
        return 0
    result = {"client": "boto3", "transfer_config": "boto3 defaults"}
    try:
        import boto3

        result["boto3_version"] = boto3.__version__
    except ImportError:
        pass
    result.update(small_ops(client, bucket, args.prefix, args.ops_size,
                            args.seconds))
    result.update(large_transfer(client, bucket, args.prefix,
                                 args.size_mib * 1024 * 1024))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
