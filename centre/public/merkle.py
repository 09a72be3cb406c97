"""The Merkle tree of a published day (docs/public.md, "Results and digests"): RFC 6962's, over SHA-256.

Pure functions, no database, so anyone can check a proof with these few lines or their own:

- a leaf is a rating's chain hash (64 hex digits, `ratings.hash`), taken as its 32 bytes;
- leaf hash  = SHA-256(0x00 ‖ rating hash bytes); node hash = SHA-256(0x01 ‖ left ‖ right). The prefixes keep a
  leaf from posing as a node (a second-preimage of the tree);
- the tree of n > 1 leaves splits at k, the largest power of two below n: root = node(MTH(first k), MTH(rest)).
  An odd node at the end of a level is thus carried up unchanged, never paired with a copy of itself;
- the tree of one leaf is its leaf hash; the tree of none is SHA-256 of nothing;
- an audit path lists the sibling hashes from the leaf up (RFC 6962 §2.1.1); `verify_proof` is RFC 9162
  §2.1.3.2's check.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").hexdigest()
_HEX64 = re.compile(r"[0-9a-f]{64}")


class BadLeaf(ValueError):
    """A leaf that is not a SHA-256 in lower-case hex."""


def leaf_hash(rating_hash: str) -> bytes:
    """The leaf's hash in the tree: SHA-256(0x00 ‖ the rating hash's 32 bytes)."""
    if not _HEX64.fullmatch(rating_hash):
        raise BadLeaf(f"a leaf is 64 lower-case hex digits, got {rating_hash[:80]!r}")
    return hashlib.sha256(LEAF_PREFIX + bytes.fromhex(rating_hash)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _levels(leaves: Sequence[str]) -> list[list[bytes]]:
    """Every level of the tree, leaves first: each level pairs its nodes left to right and carries a last odd
    one up unchanged, which builds exactly RFC 6962's split-at-a-power-of-two tree."""
    level = [leaf_hash(leaf) for leaf in leaves]
    levels = [level]
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        levels.append(paired)
        level = paired
    return levels


def merkle_root(leaves: Sequence[str]) -> str:
    """The root (hex) of the tree over `leaves`, in their order."""
    if not leaves:
        return EMPTY_ROOT
    return _levels(leaves)[-1][0].hex()


def audit_path(leaves: Sequence[str], index: int) -> list[str]:
    """The sibling hashes (hex) from leaf `index` up to the root: RFC 6962's PATH(index, leaves)."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} of a tree of {len(leaves)}")
    path = []
    for level in _levels(leaves)[:-1]:
        sibling = index ^ 1
        if sibling < len(level):      # the last odd node has none: it goes up as it is
            path.append(level[sibling].hex())
        index //= 2
    return path


def verify_proof(leaf_hash: str, index: int, size: int, path: Sequence[str], root: str) -> bool:
    """Whether `path` proves the leaf (a rating's hash, hex, as published) is leaf `index` of the tree of `size`
    leaves whose root is `root` (RFC 9162 §2.1.3.2). Never raises: anything malformed is False."""
    try:
        if not (0 <= index < size) or not _HEX64.fullmatch(root):
            return False
        fn, sn, r = index, size - 1, _leaf(leaf_hash)
        for sibling_hex in path:
            sibling = _node(sibling_hex)
            if sn == 0:
                return False
            if fn % 2 == 1 or fn == sn:
                r = node_hash(sibling, r)
                while fn % 2 == 0 and fn != 0:   # a right edge carried up: skip the levels it was alone on
                    fn, sn = fn >> 1, sn >> 1
            else:
                r = node_hash(r, sibling)
            fn, sn = fn >> 1, sn >> 1
        return sn == 0 and r.hex() == root
    except (BadLeaf, TypeError, ValueError):
        return False


def _leaf(value: str) -> bytes:
    return leaf_hash(value)


def _node(value: str) -> bytes:
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise BadLeaf("a path's hash is 64 lower-case hex digits")
    return bytes.fromhex(value)
