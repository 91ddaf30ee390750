#!/usr/bin/env python3
"""Writes the corpora of malformed evaluation inputs, one file per failure class, and each
folder's expected.json (file -> part of the error message): tokenizer.json files, token files
(.npy / raw int32) and .jsonl document collections. Run from this folder; the outputs are
committed (tools/ppl/inputs_test.cpp checks them, scripts/fuzz.sh seeds from them), this script
documents them."""
import json
import os
import struct


def npy(descr, data, fortran=False, header_len=None):
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': (%d,), }" % (descr, fortran, len(data) // 4)
    header = header.encode()
    n = len(header) if header_len is None else header_len
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", n) + header + data


def tokenizer(model=None, added=None, **top):
    model = {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]} if model is None else model
    j = {"version": "1.0", "model": model, **top}
    if added is not None:
        j["added_tokens"] = added
    return json.dumps(j).encode()


TOKENIZERS = {
    "not_json.json": (b"{model: BPE", "no 'model' object"),
    "no_model.json": (b'{"version": "1.0"}', "no 'model' object"),
    "type_not_string.json": (tokenizer({"type": 3, "vocab": {}, "merges": []}), "model.type '': only byte-level BPE"),
    "wordpiece.json": (tokenizer({"type": "WordPiece", "vocab": {}, "merges": []}), "model.type 'WordPiece'"),
    "no_merges.json": (tokenizer({"type": "BPE", "vocab": {"a": 0}}), "a vocab object and a merges array"),
    "id_not_integer.json": (tokenizer({"type": "BPE", "vocab": {"a": "zero"}, "merges": []}), "vocab['a'] is not an id"),
    "id_negative.json": (tokenizer({"type": "BPE", "vocab": {"a": -1}, "merges": []}), "vocab['a'] is not an id"),
    "id_huge.json": (tokenizer({"type": "BPE", "vocab": {"a": 2**60}, "merges": []}),
                     "id 1152921504606846976 is far beyond the 1 tokens listed"),
    "merge_one_token.json": (tokenizer({"type": "BPE", "vocab": {"a": 0}, "merges": ["ab"]}),
                             "merge 'ab' is not two tokens"),
    "merge_not_strings.json": (tokenizer({"type": "BPE", "vocab": {"a": 0}, "merges": [[1, 2]]}),
                               "a merge is neither 'a b' nor [a, b], found [1,2]"),
    "added_not_array.json": (tokenizer(added={"id": 3}), "added_tokens is not an array"),
    "added_empty.json": (tokenizer(added=[{"id": 3, "content": ""}]), "an added token needs an id >= 0 and a non-empty"),
    "added_id_huge.json": (tokenizer(added=[{"id": 2**40, "content": "<x>"}]), "id 1099511627776 is far beyond"),
}

TOKENS = {
    "empty.bin": (b"", "no tokens"),
    "ragged.bin": (b"\x01\x00\x00\x00\x02\x00", "6 data bytes are not whole 4-byte ids"),
    "npy_truncated.npy": (b"\x93NUMPY\x01", "truncated .npy header"),
    "npy_header_past_end.npy": (npy("<i4", b"\0" * 8, header_len=60000), "truncated .npy header"),
    "npy_no_descr.npy": (b"\x93NUMPY\x01\x00" + struct.pack("<H", 20) + b"{'shape': (1,), }   " + b"\0" * 4,
                         ".npy header without descr"),
    "npy_float.npy": (npy("<f4", b"\0" * 8), "token dtype '<f4': expected int32, int64, uint16 or uint32"),
    "npy_fortran.npy": (npy("<i4", b"\0" * 8, fortran=True), "Fortran-ordered arrays are not supported"),
    "npy_big_endian.npy": (npy(">i4", b"\0" * 8), "token dtype '>i4'"),
}

DOCUMENTS = {
    "empty.jsonl": (b"", "no documents"),
    "blank_lines.jsonl": (b"\n  \n\t\r\n", "no documents"),
    "not_json.jsonl": (b'{"text": "one"}\n{"text": \n', ":2: not a JSON object"),
    "no_text.jsonl": (b'{"content": "one"}\n', ":1: expected an object with a string \"text\""),
    "text_not_string.jsonl": (b'{"text": 42}\n', "expected an object with a string \"text\""),
    "array.jsonl": (b'["text"]\n', "expected an object with a string \"text\""),
    "empty_text.jsonl": (b'{"text": ""}\n', ":1: the text is empty"),
    "nul_byte.jsonl": (b'{"text": "a\\u0000b"}\n', ":1: byte 1 is not UTF-8 text"),
    "bad_utf8.jsonl": (b'{"text": "ok"}\n{"text": "\xff\xfe"}\n', ":2: not a JSON object"),
}


def write(folder, cases):
    os.makedirs(folder, exist_ok=True)
    for name, (data, _) in cases.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)
    with open(os.path.join(folder, "expected.json"), "w") as f:
        json.dump({name: message for name, (_, message) in cases.items()}, f, indent=1, sort_keys=True)
        f.write("\n")


write("bad_inputs/tokenizer", TOKENIZERS)
write("bad_inputs/tokens", TOKENS)
write("bad_inputs/documents", DOCUMENTS)
