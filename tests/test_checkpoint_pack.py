"""A checkpoint's arrays packed into a few entries (agentsim.checkpoint_pack) come back as
they were: the same keys, values, dtypes and shapes."""

from __future__ import annotations

import io

import numpy as np
import pytest

from agentsim.checkpoint_pack import PACKED, pack, unpack


def arrays() -> dict[str, np.ndarray]:
    return {
        "ann/importance": np.array([3, 9], dtype=np.int8),
        "bob/importance": np.zeros(0, dtype=np.int8),  # no memory yet
        "ann/embedding_rows": np.array([0, 1], dtype=np.int32),
        "bob/embedding_rows": np.zeros(0, dtype=np.int32),
        "ann/embeddings_dim": np.asarray(384, dtype=np.int32),
        "bob/embeddings_dim": np.asarray(384, dtype=np.int32),
        "cal/embeddings": np.ones((2, 3), dtype=np.float32),  # inline, 2-D
        "dan/embeddings": np.ones((1, 4), dtype=np.float32),  # another row shape
        "eve/importance": np.array([1], dtype=np.int64),  # another dtype
        "tick": np.asarray(5),  # no owner
        "ann/notes": np.array(["a", "b"]),  # not numeric
    }


def test_packed_arrays_come_back_as_they_were_through_an_npz():
    packed = pack(arrays())
    assert len([k for k in packed if k.startswith(PACKED)]) == 3 * 6  # six groups
    assert not [k for k in packed if k.startswith(("ann/", "bob/")) and k != "ann/notes"]
    buf = io.BytesIO()
    np.savez(buf, **packed)
    buf.seek(0)
    with np.load(buf) as z:
        back = unpack({k: z[k] for k in z.files})
    want = arrays()
    assert set(back) == set(want)
    for key, value in want.items():
        assert back[key].dtype == value.dtype and back[key].shape == value.shape, key
        np.testing.assert_array_equal(back[key], value)


def test_a_group_that_does_not_add_up_is_an_error():
    packed = pack(arrays())
    sizes = next(k for k in packed if k.endswith(".sizes"))
    packed[sizes] = packed[sizes] + 1
    with pytest.raises(ValueError, match="does not add up"):
        unpack(packed)
