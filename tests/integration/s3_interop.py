#!/usr/bin/python3
"""boto3 side of the S3 interop test (tests/integration/test_s3_interop.c).
Debian's /usr/bin/python3 with python3-boto3.  Reads S3_ENDPOINT_URL,
S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION, S3_BUCKET.

    s3_interop.py sha256 KEY          SHA-256 (hex) of the object, read by boto3
    s3_interop.py put KEY FILE        put_object with FILE's bytes
    s3_interop.py upload KEY FILE     multipart upload (5 MiB parts)
    s3_interop.py presign KEY SECS    botocore's presigned GET URL
    s3_interop.py list PREFIX         the keys under PREFIX, one per line
"""

import hashlib
import os
import sys

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config


def client():
    return boto3.client(
        's3',
        endpoint_url=os.environ['S3_ENDPOINT_URL'],
        aws_access_key_id=os.environ['S3_ACCESS_KEY'],
        aws_secret_access_key=os.environ['S3_SECRET_KEY'],
        region_name=os.environ.get('S3_REGION') or 'us-east-1',
        config=Config(signature_version='s3v4',
                      s3={'addressing_style': 'path'},
                      retries={'max_attempts': 1}))


def main(argv):
    s3 = client()
    bucket = os.environ['S3_BUCKET']
    cmd = argv[1]
    if cmd == 'sha256':
        body = s3.get_object(Bucket=bucket, Key=argv[2])['Body'].read()
        print(hashlib.sha256(body).hexdigest())
    elif cmd == 'put':
        with open(argv[3], 'rb') as f:
            s3.put_object(Bucket=bucket, Key=argv[2], Body=f.read())
    elif cmd == 'upload':
        cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024,
                             multipart_chunksize=5 * 1024 * 1024)
        s3.upload_file(argv[3], bucket, argv[2], Config=cfg)
    elif cmd == 'presign':
        print(s3.generate_presigned_url(
            'get_object', Params={'Bucket': bucket, 'Key': argv[2]},
            ExpiresIn=int(argv[3])))
    elif cmd == 'list':
        pages = s3.get_paginator('list_objects_v2').paginate(
            Bucket=bucket, Prefix=argv[2])
        for page in pages:
            for obj in page.get('Contents', []):
                sys.stdout.buffer.write(obj['Key'].encode() + b'\n')
    else:
        sys.exit('unknown command ' + cmd)


if __name__ == '__main__':
    main(sys.argv)
