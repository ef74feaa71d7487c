"""Shared pytest fixtures of the migration integration tests (see migfix.py)."""
import os
import sys
import uuid

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import migfix  # noqa: E402


@pytest.fixture
def db():
    d = migfix.DB()
    yield d
    d.close()


@pytest.fixture
def migrated_db(db):
    """The old tables plus the schema change (sql/001 and sql/002)."""
    migfix.create_old_tables(db)
    migfix.apply_schema_files(db)
    return db


@pytest.fixture
def bucket():
    """A bucket of its own on the S3 test server, emptied and removed after."""
    s3 = migfix.S3()
    s3.bucket = "mig-" + uuid.uuid4().hex[:12]
    s3.client.create_bucket(Bucket=s3.bucket)
    yield s3
    s3.clear("")
    s3.client.delete_bucket(Bucket=s3.bucket)


@pytest.fixture
def env_for(db):
    """Environment for the driver / CLI pointing at the test's database."""
    return {"DATABASE_URL": db.url}
