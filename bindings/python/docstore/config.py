# libdocstore Python binding: configuration (include/docstore/config.h).
# SPDX-License-Identifier: Apache-2.0
"""Settings under the names of the environment variables (STORAGE_TYPE,
S3_BUCKET, LOCAL_STORAGE_PATH, RSA_PRIVATE_KEY_PATH...), checked by the
library as they are set.  docs/CONFIG.md lists every setting."""

import ctypes

from . import _ffi


def _value(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return b"true" if value else b"false"
    return _ffi.enc(value)


class Config(_ffi.Wrapper):
    """A docstore_config.  Not thread-safe while being modified.

    Config(mapping) sets each NAME=value of the mapping (None values are left
    unset, as the seed's settings object gives None for an unset
    S3_ENDPOINT_URL); an unknown name or a bad value raises ConfigError.
    """

    _what = "configuration"
    _errmsg = "docstore_config_errmsg"

    def __init__(self, settings=None, *, env=False, dotenv=None):
        lib = _ffi.lib()
        out = ctypes.c_void_p()
        _ffi.check(lib.docstore_config_new(ctypes.byref(out)))
        self._own(out.value, "docstore_config_free")
        if env:
            self.load_env()
        if dotenv is not None:
            self.load_dotenv(dotenv)
        if settings:
            self.update(settings)

    @classmethod
    def from_env(cls):
        """Every known variable from the process environment."""
        return cls(env=True)

    def set(self, name, value):
        """Set one setting (None unsets it)."""
        self._check(_ffi.lib().docstore_config_set(
            self._p(), _ffi.enc(name), _value(value)))

    def update(self, settings):
        for name, value in dict(settings).items():
            if value is not None:
                self.set(name, value)

    def get(self, name, default=None):
        """The value set for a setting (no default applied), or `default`."""
        v = _ffi.lib().docstore_config_get(self._p(), _ffi.enc(name))
        return default if v is None else _ffi.dec(v)

    def load_env(self):
        self._check(_ffi.lib().docstore_config_load_env(self._p()))

    def load_dotenv(self, path):
        self._check(_ffi.lib().docstore_config_load_dotenv(
            self._p(), _ffi.enc(str(path))))

    def validate(self):
        """Raise ConfigError when incomplete or incoherent."""
        self._check(_ffi.lib().docstore_config_validate(self._p()))

    def dump(self):
        """The effective configuration as NAME=value lines, secrets masked."""
        out = ctypes.c_void_p()
        self._check(_ffi.lib().docstore_config_dump(self._p(),
                                                    ctypes.byref(out)))
        return _ffi.take_str(out) or ""

    @staticmethod
    def names():
        """Names of every setting the library knows."""
        lib = _ffi.lib()
        names, i = [], 0
        while True:
            n = lib.docstore_config_name_at(i)
            if n is None:
                return names
            names.append(_ffi.dec(n))
            i += 1

    def close(self):
        self._h.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def as_config(config):
    """A Config from a Config, a mapping, or None (the environment)."""
    if isinstance(config, Config):
        return config
    if config is None:
        return Config.from_env()
    return Config(config)
