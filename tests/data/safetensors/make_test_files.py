#!/usr/bin/env python3
"""Writes the hand-made safetensors / JSON test files that are committed to git.

  tests/data/safetensors/malformed/*.safetensors + EXPECTED.txt
  tests/data/hf/malformed/*.json                 + EXPECTED.txt
  tests/fuzz/corpus/safetensors/*                  (fuzzer seeds)

CI has no python: run this by hand after changing it and commit the output.
EXPECTED.txt lines are `file<TAB>substring of the one-line error`; the unit
test test_safetensors_malformed and the CLI tests (tests/cli) read them.

Usage: python3 tests/data/safetensors/make_test_files.py   (from anywhere)
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
SAFETENSORS_DIR = os.path.join(HERE, "malformed")
HF_DIR = os.path.join(ROOT, "tests", "data", "hf", "malformed")
SEED_DIR = os.path.join(ROOT, "tests", "fuzz", "corpus", "safetensors")


def safetensors_bytes(header, data=b"", pad=True):
    """A file from a header (dict, or raw str/bytes used verbatim) and a data buffer."""
    if isinstance(header, dict):
        text = json.dumps(header, separators=(",", ":")).encode()
    elif isinstance(header, str):
        text = header.encode()
    else:
        text = header
    if pad:  # as the reference writer does: spaces up to a multiple of 8
        text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def tensor(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def f32_pair():
    """Two valid F32 [2] tensors a, b: the base most cases break one thing of."""
    return {"a": tensor("F32", [2], 0, 8), "b": tensor("F32", [2], 8, 16)}


def with_a(**changes):
    header = f32_pair()
    header["a"] = dict(header["a"], **changes)
    return header


def without_a(key):
    header = f32_pair()
    del header["a"][key]
    return header


DATA16 = bytes(range(16))

# name -> (file bytes, expected error substring)
MALFORMED_SAFETENSORS = {
    "empty": (b"", "shorter than the 8-byte header size field"),
    "too_short": (b"\x10\x00\x00\x00\x00", "shorter than the 8-byte header size field"),
    "header_size_over_limit": (struct.pack("<Q", 100_000_001) + b"{}", "exceeds the limit of 100000000 bytes"),
    "header_size_max_u64": (struct.pack("<Q", 2**64 - 1) + b"{}", "exceeds the limit"),
    "header_past_end": (struct.pack("<Q", 1000) + b'{"a":1}', "runs past the end of the file"),
    "header_not_object": (safetensors_bytes("[1, 2]"), "header does not start with '{'"),
    "header_empty": (struct.pack("<Q", 0), "header does not start with '{'"),
    "header_truncated_json": (safetensors_bytes('{"a": {"dtype": "F32", "shape": [2]', pad=False),
                              "header JSON: syntax error"),
    "header_trailing_garbage": (safetensors_bytes("{} x", pad=False), "expected end of input"),
    "header_invalid_utf8": (safetensors_bytes(b'{"\xff\xfe": 1}', pad=False), "ill-formed UTF-8"),
    "header_nul_padding": (safetensors_bytes(b"{}\x00\x00\x00\x00\x00\x00", pad=False),
                           "offset 10: header JSON: NUL byte"),
    "deep_nesting": (safetensors_bytes('{"a":' + "[" * 100000, pad=False), "nesting deeper than 64 levels"),
    "duplicate_tensor": (safetensors_bytes('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                                           '"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}') + DATA16,
                         "duplicate key 'a'"),
    "tensor_not_object": (safetensors_bytes({"a": [0, 8], "b": tensor("F32", [2], 8, 16)}) + DATA16,
                          "tensor 'a': expected an object with dtype, shape and data_offsets"),
    "missing_dtype": (safetensors_bytes(without_a("dtype")) + DATA16, "tensor 'a': missing 'dtype'"),
    "missing_shape": (safetensors_bytes(without_a("shape")) + DATA16, "tensor 'a': missing 'shape'"),
    "missing_data_offsets": (safetensors_bytes(without_a("data_offsets")) + DATA16,
                             "tensor 'a': missing 'data_offsets'"),
    "dtype_not_string": (safetensors_bytes(with_a(dtype=32)) + DATA16, "dtype must be a string, found 32"),
    "unknown_dtype": (safetensors_bytes(with_a(dtype="F17")) + DATA16, "unknown dtype 'F17'"),
    "shape_not_array": (safetensors_bytes(with_a(shape=2)) + DATA16, "shape must be an array"),
    "shape_negative": (safetensors_bytes(with_a(shape=[-2])) + DATA16,
                       "shape[0] must be a non-negative integer, found -2"),
    "shape_fraction": (safetensors_bytes(with_a(shape=[1, 2.5])) + DATA16,
                       "shape[1] must be a non-negative integer, found 2.5"),
    "shape_dim_over_u64": (safetensors_bytes('{"a":{"dtype":"F32","shape":[18446744073709551616],'
                                             '"data_offsets":[0,8]}}') + DATA16[:8],
                           "shape[0] must be a non-negative integer"),
    "shape_elements_overflow": (safetensors_bytes(with_a(shape=[2**32, 2**32, 2])) + DATA16,
                                "more than 2^64 elements"),
    "shape_bits_overflow": (safetensors_bytes(with_a(dtype="F64", shape=[2**62])) + DATA16,
                            "more than 2^64 bits"),
    "f4_partial_byte": (safetensors_bytes({"a": tensor("F4", [3], 0, 2)}) + DATA16[:2],
                        "not a whole number of bytes"),
    "offsets_one_value": (safetensors_bytes(with_a(data_offsets=[8])) + DATA16,
                          "data_offsets must be an array [begin, end]"),
    "offsets_negative": (safetensors_bytes(with_a(data_offsets=[-8, 0])) + DATA16,
                         "data_offsets [-8, 0] must be non-negative integers"),
    "offsets_over_u64": (safetensors_bytes('{"a":{"dtype":"F32","shape":[2],'
                                           '"data_offsets":[0,18446744073709551624]}}') + DATA16[:8],
                         "must be non-negative integers"),
    "begin_after_end": (safetensors_bytes(with_a(data_offsets=[8, 0])) + DATA16, "begin after end"),
    "end_beyond_buffer": (safetensors_bytes({"a": tensor("F32", [2], 0, 8), "b": tensor("F32", [2], 8, 16)})
                          + DATA16[:12], "end beyond the data buffer of 12 bytes"),
    "size_mismatch": (safetensors_bytes(with_a(shape=[3])) + DATA16,
                      "span 8 bytes but dtype F32 shape [3] needs 12 bytes"),
    "overlap": (safetensors_bytes({"a": tensor("F32", [2], 0, 8), "b": tensor("F32", [2], 4, 12)})
                + DATA16[:12], "overlap tensor 'a'"),
    "gap": (safetensors_bytes({"a": tensor("F32", [2], 0, 8), "b": tensor("F32", [2], 12, 20)})
            + DATA16 + DATA16[:4], "leave a gap of 4 bytes after tensor 'a'"),
    "gap_at_start": (safetensors_bytes({"a": tensor("F32", [2], 4, 12)}) + DATA16[:12],
                     "leave a gap of 4 bytes after the start of the data buffer"),
    "trailing_bytes": (safetensors_bytes(f32_pair()) + DATA16 + b"\x00\x00\x00",
                       "3 bytes after the last tensor's data"),
    "metadata_not_object": (safetensors_bytes(dict(f32_pair(), __metadata__=["pt"])) + DATA16,
                            "key '__metadata__': expected an object of strings, found array"),
    "metadata_value_not_string": (safetensors_bytes(dict(f32_pair(), __metadata__={"step": 3})) + DATA16,
                                  "value of 'step' must be a string, found 3"),
}

# Config files given to `pocketllm info FILE` (a bare config.json).
MALFORMED_HF = {
    "empty.json": (b"", "line 1 column 1: syntax error"),
    "invalid_json.json": (b'{\n  "hidden_size": 64,\n  "num_layers" 3\n}\n', "line 3 column 16: syntax error"),
    "trailing_comma.json": (b'{\n  "hidden_size": 64,\n}\n', "line 3 column 1: syntax error"),
    "not_object.json": (b'[{"hidden_size": 64}]\n', "expected a JSON object at the top level, found array"),
    "duplicate_key.json": (b'{"hidden_size": 64, "hidden_size": 128}\n', "duplicate key 'hidden_size'"),
    "deep_nesting.json": (b'{"a": ' + b"[" * 100000, "nesting deeper than 64 levels"),
    "invalid_utf8.json": (b'{"model_type": "\xc3\x28"}\n', "ill-formed UTF-8"),
}


def all_dtypes_file():
    """One tensor of every dtype (sizes from the reference's bitsize()), plus
    a scalar, an empty tensor and metadata."""
    bits = {"BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8,
            "F8_E4M3": 8, "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "I16": 16, "U16": 16,
            "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "C64": 64, "F64": 64,
            "I64": 64, "U64": 64}
    header = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, b in bits.items():
        n_bytes = 4 * b // 8  # shape [4]: whole bytes for every dtype
        header["t_" + name.lower()] = tensor(name, [4], offset, offset + n_bytes)
        offset += n_bytes
    header["scalar"] = tensor("F32", [], offset, offset + 4)
    offset += 4
    header["empty"] = tensor("BF16", [0, 3], offset, offset)
    return safetensors_bytes(header, bytes(i % 251 for i in range(offset)))


SEEDS = {
    "all_dtypes.safetensors": all_dtypes_file(),
    "two_f32.safetensors": safetensors_bytes(f32_pair(), DATA16),
    "metadata_only.safetensors": safetensors_bytes({"__metadata__": {"format": "pt", "k": "v"}}),
    "escaped_names.safetensors": safetensors_bytes(
        {"a\u00e9\n": tensor("U8", [1], 0, 1), "\u4e2d": tensor("I8", [1, 1], 1, 2)}, b"\x01\x02"),
    "nested_metadata.safetensors": safetensors_bytes('{"__metadata__":{"a":"{\\"b\\":[1,2]}"},'
                                                     '"x":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}',
                                                     b"\x00\x3c"),
}


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def write_corpus(folder, files, suffix):
    os.makedirs(folder, exist_ok=True)
    lines = ["# file<TAB>substring of the one-line error (made by tests/data/safetensors/make_test_files.py)"]
    for name, (data, expected) in files.items():
        file_name = name + suffix
        write(os.path.join(folder, file_name), data)
        lines.append(f"{file_name}\t{expected}")
    write(os.path.join(folder, "EXPECTED.txt"), ("\n".join(lines) + "\n").encode())


def main():
    write_corpus(SAFETENSORS_DIR, MALFORMED_SAFETENSORS, ".safetensors")
    write_corpus(HF_DIR, MALFORMED_HF, "")
    os.makedirs(SEED_DIR, exist_ok=True)
    for name, data in SEEDS.items():
        write(os.path.join(SEED_DIR, name), data)
    # A few malformed files seed the fuzzer's error paths too.
    for name in ("duplicate_tensor", "overlap", "gap", "shape_negative", "metadata_not_object"):
        write(os.path.join(SEED_DIR, "bad_" + name + ".safetensors"), MALFORMED_SAFETENSORS[name][0])


if __name__ == "__main__":
    main()
