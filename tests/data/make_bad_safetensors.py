#!/usr/bin/env python3
"""Writes the corpus of malformed safetensors files and expected.json (file -> part of the
error message). Run from this folder; the outputs are committed, this script documents them."""
import json
import struct

GOOD = {"x": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}


def image(header, data=b"\0" * 16, length=None):
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    n = len(text) if length is None else length
    return struct.pack("<Q", n) + text + data


CASES = {
    "empty": (b"", "the file is empty"),
    "truncated_length": (b"\x10\x00\x00", "truncated"),
    "header_past_end": (image(GOOD, length=10_000), "runs past the end of the file"),
    "header_huge": (struct.pack("<Q", 2**63) + b"{}", "runs past the end"),
    "not_json": (image(b"{this is not json}"), "malformed JSON header"),
    "not_object": (image(b"[1, 2, 3]"), "not a JSON object"),
    "truncated_json": (image(b'{"x": {"dtype": "F32", "sha'), "malformed JSON header"),
    "unknown_dtype": (image({"x": {"dtype": "F8_E4M3", "shape": [16], "data_offsets": [0, 16]}}),
                      "unsupported dtype 'F8_E4M3'"),
    "dtype_not_string": (image({"x": {"dtype": 7, "shape": [4], "data_offsets": [0, 16]}}), "'dtype' must be a string"),
    "missing_shape": (image({"x": {"dtype": "F32", "data_offsets": [0, 16]}}), "lacks 'shape'"),
    "negative_extent": (image({"x": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}}), "non-negative"),
    "shape_overflow": (image({"x": {"dtype": "F64", "shape": [2**40, 2**40], "data_offsets": [0, 16]}}),
                       "too large"),
    "bytes_mismatch": (image({"x": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}}), "needs 12 bytes"),
    "offsets_past_data": (image({"x": {"dtype": "F32", "shape": [8], "data_offsets": [0, 32]}}),
                          "exceed the data section of 16 bytes"),
    "offsets_reversed": (image({"x": {"dtype": "F32", "shape": [0], "data_offsets": [16, 8]}}), "begin after end"),
    "offsets_negative": (image({"x": {"dtype": "F32", "shape": [4], "data_offsets": [-16, 0]}}), "data_offsets"),
    "offsets_wrong_arity": (image({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0]}}), "data_offsets"),
    "overlap": (image({"x": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]},
                       "y": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}), "overlap"),
    "entry_not_object": (image({"x": [1, 2]}), "header entry must be an object"),
    "metadata_not_strings": (image({"__metadata__": {"format": 3}, **GOOD}), "must be a string"),
}

if __name__ == "__main__":
    expected = {}
    for name, (data, message) in CASES.items():
        with open(f"bad_safetensors/{name}.safetensors", "wb") as f:
            f.write(data)
        expected[f"{name}.safetensors"] = message
    with open("bad_safetensors/expected.json", "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


def write_seeds():
    """Valid files for the fuzzer to mutate (tests/fuzz/seeds)."""
    header = {"__metadata__": {"format": "pt"},
              "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
              "b": {"dtype": "BF16", "shape": [3], "data_offsets": [16, 22]},
              "c": {"dtype": "I64", "shape": [1], "data_offsets": [22, 30]},
              "d": {"dtype": "BOOL", "shape": [2], "data_offsets": [30, 32]}}
    with open("../fuzz/seeds/valid.safetensors", "wb") as f:
        f.write(image(header, data=bytes(range(32))))
    with open("../fuzz/seeds/empty_tensor.safetensors", "wb") as f:
        f.write(image({"e": {"dtype": "F16", "shape": [0, 4], "data_offsets": [0, 0]}}, data=b""))


if __name__ == "__main__":
    write_seeds()
