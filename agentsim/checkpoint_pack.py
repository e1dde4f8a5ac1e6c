"""A checkpoint's arrays packed into a few: one array per kind of per-agent array, not one
per agent and kind (issue 17).

A checkpoint's arrays are named `<agent>/<name>` (`<agent>/importance`,
`<agent>/embedding_rows`, ...): three small arrays per resident, 3,000 entries of a zip at
1,000 residents, each with its own header, written and read one by one. `pack` puts the
arrays of one name, dtype and row shape together (concatenated, with who owns which rows),
so a checkpoint holds a few entries whatever the size of the town; `unpack` gives back the
arrays as they were, by the same keys, values and dtypes. A checkpoint written before
(one entry per array) has no packed entry and loads as it is.

In the npz, group `i` is three entries: `packed:<i>/<name>` (the values, one after the
other), `packed:<i>.owners` (the owner of each array, in order) and `packed:<i>.sizes`
(the rows of each; -1 for a 0-d array, one value).
"""

from __future__ import annotations

from typing import Any

import numpy as np

PACKED = "packed:"


def pack(arrays: dict[str, Any]) -> dict[str, np.ndarray]:
    """`arrays` with every `<owner>/<name>` numeric array packed into its group; other
    arrays (no owner, not numeric) stay as they are."""
    groups: dict[tuple[str, str, tuple[int, ...] | None], list[tuple[str, np.ndarray]]] = {}
    out: dict[str, np.ndarray] = {}
    for key, value in arrays.items():
        arr = np.asarray(value)
        owner, slash, name = key.rpartition("/")
        if not slash or not owner or arr.dtype.kind not in "biuf" or key.startswith(PACKED):
            out[key] = arr
            continue
        rows = tuple(arr.shape[1:]) if arr.ndim else None
        groups.setdefault((name, arr.dtype.str, rows), []).append((owner, arr))
    for i, ((name, dtype, rows), members) in enumerate(groups.items()):
        values = [a.reshape(1) if rows is None else a for _, a in members]
        shape = (0,) if rows is None else (0, *rows)
        out[f"{PACKED}{i}/{name}"] = np.concatenate(values) if values else \
            np.zeros(shape, dtype=dtype)
        out[f"{PACKED}{i}.owners"] = np.array([o for o, _ in members], dtype=str)
        out[f"{PACKED}{i}.sizes"] = np.array([-1 if rows is None else len(a) for _, a in members],
                                             dtype=np.int64)
    return out


def unpack(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The inverse of `pack` (arrays with no packed entry come back as they are). Raises
    ValueError when a group's entries do not fit together."""
    out: dict[str, np.ndarray] = {}
    values: dict[str, tuple[str, np.ndarray]] = {}
    for key, value in arrays.items():
        if not key.startswith(PACKED):
            out[key] = value
        elif "/" in key:
            group, _, name = key[len(PACKED):].partition("/")
            values[group] = (name, value)
    for group, (name, value) in values.items():
        owners = arrays[f"{PACKED}{group}.owners"]
        sizes = arrays[f"{PACKED}{group}.sizes"]
        if len(owners) != len(sizes) or int(np.where(sizes < 0, 1, sizes).sum()) != len(value):
            raise ValueError(f"packed group {group} ({name}) does not add up")
        at = 0
        for owner, size in zip(owners.tolist(), sizes.tolist(), strict=True):
            if size < 0:
                out[f"{owner}/{name}"] = value[at:at + 1].reshape(())  # a 0-d array again
                at += 1
            else:
                out[f"{owner}/{name}"] = value[at:at + size]
                at += size
    return out
