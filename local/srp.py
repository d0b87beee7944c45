"""The server's half of Cognito's SRP sign-in (`USER_SRP_AUTH`, then `PASSWORD_VERIFIER`).

SRP-6a with SHA-256 over the 3072-bit group of RFC 5054 (g = 2), with Cognito's choices, the
ones its client libraries (amazon-cognito-identity-js' AuthenticationHelper, pycognito's AWSSRP)
compute on their side: x = H(salt | H(poolName | userIdForSrp | ":" | password)), numbers
hashed as their padded big-endian bytes, the session key derived with HKDF ("Caldera Derived
Key", 16 bytes), and the client's claim an HMAC of poolName | userIdForSrp | secretBlock |
timestamp under that key. The server needs the password only to build the verifier
g^x; a client that does not know it cannot produce the claim.
"""

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

N = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A0879"
    "8E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B"
    "0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA4836"
    "1C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804"
    "F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6"
    "955817183995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64"
    "ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7ABF5AE8CDB0933D71E8C94E04A25619DCEE3D226"
    "1AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2"
    "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
    16,
)
G = 2


def _padded(number: int) -> bytes:
    """The bytes Cognito hashes for a number: big-endian, with a leading zero byte when the
    top bit is set (the sign bit of Java's BigInteger)."""
    digits = f"{number:x}"
    if len(digits) % 2:
        digits = "0" + digits
    elif digits[0] in "89abcdef":
        digits = "00" + digits
    return bytes.fromhex(digits)


def _hash(*parts: bytes) -> int:
    return int.from_bytes(hashlib.sha256(b"".join(parts)).digest(), "big")


K = _hash(_padded(N), _padded(G))


class InvalidSrpA(ValueError):
    """SRP_A is not a usable public value (not hex, or 0 mod N)."""


@dataclass(frozen=True)
class PasswordVerifier:
    """One sign-in attempt's server state, from InitiateAuth to RespondToAuthChallenge."""

    pool_name: str  # the part of the pool id after the region: us-east-1_<pool_name>
    user_id: str  # USER_ID_FOR_SRP
    salt: int
    verifier: int  # g^x
    client_public: int  # A
    server_secret: int  # b
    server_public: int  # B = k·v + g^b

    @classmethod
    def start(cls, pool_id: str, user_id: str, password: str, srp_a: str) -> "PasswordVerifier":
        try:
            client_public = int(srp_a, 16)
        except ValueError:
            raise InvalidSrpA("SRP_A is not a hexadecimal number.") from None
        if client_public % N == 0:
            raise InvalidSrpA("SRP_A is 0 modulo N.")
        pool_name = pool_id.partition("_")[2]
        salt = secrets.randbits(128)
        identity = hashlib.sha256(f"{pool_name}{user_id}:{password}".encode()).digest()
        verifier = pow(G, _hash(_padded(salt), identity), N)
        server_secret = secrets.randbelow(N - 2) + 1
        server_public = (K * verifier + pow(G, server_secret, N)) % N
        return cls(pool_name, user_id, salt, verifier, client_public, server_secret, server_public)

    @property
    def challenge_parameters(self) -> dict[str, str]:
        return {
            "SALT": _padded(self.salt).hex(),
            "SRP_B": f"{self.server_public:x}",
            "USER_ID_FOR_SRP": self.user_id,
        }

    def claim_is_valid(self, secret_block: bytes, timestamp: str, signature: str) -> bool:
        """Whether PASSWORD_CLAIM_SIGNATURE is the one only the password's owner can make."""
        u = _hash(_padded(self.client_public), _padded(self.server_public))
        if u == 0:
            return False
        shared = pow(self.client_public * pow(self.verifier, u, N), self.server_secret, N)
        key = _hkdf(_padded(shared), _padded(u))
        message = (
            self.pool_name.encode() + self.user_id.encode() + secret_block + timestamp.encode()
        )
        expected = base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()
        return hmac.compare_digest(expected, signature)


def _hkdf(key_material: bytes, salt: bytes) -> bytes:
    """RFC 5869 HKDF-SHA256, one block, Cognito's info string, the first 16 bytes."""
    pseudo_random_key = hmac.new(salt, key_material, hashlib.sha256).digest()
    block = hmac.new(pseudo_random_key, b"Caldera Derived Key\x01", hashlib.sha256).digest()
    return block[:16]
