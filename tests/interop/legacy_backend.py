"""The legacy envelope exactly as the Python backend produced it, with
PyCryptodome (Debian's python3-pycryptodome, imported as Cryptodome) and its
defaults: PKCS1_OAEP (SHA-1, MGF1-SHA-1) for the session key, AES.MODE_GCM
(16-byte random nonce, 16-byte tag, no associated data) for the document.
"""
import base64
import json

from Cryptodome.Cipher import AES, PKCS1_OAEP
from Cryptodome.PublicKey import RSA
from Cryptodome.Random import get_random_bytes


def encrypt_document(public_pem, data, session_key_len=16):
    recipient = RSA.import_key(public_pem)
    session_key = get_random_bytes(session_key_len)
    enc_session_key = PKCS1_OAEP.new(recipient).encrypt(session_key)
    cipher = AES.new(session_key, AES.MODE_GCM)
    ciphertext, tag = cipher.encrypt_and_digest(data)
    return {
        "enc_session_key": base64.b64encode(enc_session_key).decode(),
        "nonce": base64.b64encode(cipher.nonce).decode(),
        "tag": base64.b64encode(tag).decode(),
        "ciphertext": base64.b64encode(ciphertext).decode(),
    }


def dict_to_bytes(d):
    return json.dumps(d).encode()


def decrypt_document(private_pem, d, passphrase=None):
    key = RSA.import_key(private_pem, passphrase=passphrase)
    session_key = PKCS1_OAEP.new(key).decrypt(base64.b64decode(d["enc_session_key"]))
    cipher = AES.new(session_key, AES.MODE_GCM, nonce=base64.b64decode(d["nonce"]))
    return cipher.decrypt_and_verify(base64.b64decode(d["ciphertext"]),
                                     base64.b64decode(d["tag"]))


def generate_key(bits=2048):
    return RSA.generate(bits)
