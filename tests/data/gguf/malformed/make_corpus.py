#!/usr/bin/env python3
"""Writes the hand-made malformed GGUF files of this folder and EXPECTED.txt.

Run once after changing it (python3 make_corpus.py); the generated files are
committed, because tests must not need python. Each file breaks exactly one
rule of the GGUF format (or of ggml's tensor layout) in an otherwise valid
file; EXPECTED.txt pairs it with words the reader's error must contain.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# GGUF value types
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)
# ggml types used here
F32, F16, Q4_0 = 0, 1, 2


def u32(v): return struct.pack('<I', v)
def u64(v): return struct.pack('<Q', v)
def gstr(s): return u64(len(s)) + s.encode()


def kv(key, vtype, payload):
    """One key-value: key string, u32 type, raw payload bytes."""
    return gstr(key) + u32(vtype) + payload


def tinfo(name, ne, gtype, offset):
    return gstr(name) + u32(len(ne)) + b''.join(u64(n) for n in ne) + u32(gtype) + u64(offset)


def gguf(kvs=(), tinfos=(), data=b'', version=3, n_kv=None, n_tensors=None, alignment=32, magic=b'GGUF'):
    """A whole file: header, key-values, tensor infos, padding, data."""
    head = magic + u32(version) + u64(len(tinfos) if n_tensors is None else n_tensors) + \
        u64(len(kvs) if n_kv is None else n_kv)
    body = head + b''.join(kvs) + b''.join(tinfos)
    if tinfos or data:
        body += b'\0' * ((alignment - len(body) % alignment) % alignment)
    return body + data


ARCH = kv('general.architecture', STRING, gstr('llama'))
F32_4 = tinfo('a', [4], F32, 0)          # 16 bytes at offset 0
DATA_32 = bytes(range(32))               # room for two aligned 16-byte tensors

valid = gguf([ARCH], [F32_4], DATA_32[:16] + b'\0' * 16)

cases = []  # (file name, bytes, expected words)


def case(name, data, expected):
    cases.append((name, data, expected))


case('bad_magic.gguf', b'GGML' + valid[4:], 'bad magic')
case('empty.gguf', b'', 'truncated file: magic')
case('version_1.gguf', gguf([ARCH], version=1), 'unsupported GGUF version 1')
case('version_0.gguf', gguf([ARCH], version=0), 'unsupported GGUF version 0')
case('version_4.gguf', gguf([ARCH], version=4), 'unsupported GGUF version 4')
case('big_endian.gguf', b'GGUF' + struct.pack('>IQQ', 3, 0, 1) + b'\0' * 16, 'big-endian')
case('truncated_header.gguf', valid[:12], 'truncated file: tensor count')
case('truncated_in_value.gguf', gguf([kv('x.n', UINT32, u32(7))])[:-2], 'truncated file: UINT32 value')
case('truncated_in_array.gguf', gguf([kv('x.a', ARRAY, u32(INT16) + u64(4) + b'\1\0\2\0\3\0\4\0')])[:-3],
     'array of 4 INT16 elements exceeds the 5 bytes left')
case('truncated_in_string_array.gguf', gguf([kv('x.s', ARRAY, u32(STRING) + u64(2) + gstr('abc') + gstr('defg'))])[:-7],
     'truncated file: string needs 8 bytes, 5 left')
case('truncated_tensor_info.gguf', gguf([ARCH], [tinfo('t', [4, 4], F32, 0)])[:-40], 'truncated file: dimension')
case('tensor_count_too_large.gguf', gguf([ARCH], n_tensors=1 << 60), 'tensor count 1152921504606846976 exceeds')
case('kv_count_too_large.gguf', gguf([ARCH], n_kv=1 << 40), 'metadata count 1099511627776 exceeds')
case('key_length_too_large.gguf', gguf([u64(1 << 63) + b'general'], n_kv=1), 'key length 9223372036854775808 exceeds')
case('string_length_too_large.gguf', gguf([kv('general.name', STRING, u64(0xffffffffffffffff) + b'abc')]),
     'string length 18446744073709551615 exceeds')
case('array_length_too_large.gguf', gguf([kv('x.a', ARRAY, u32(UINT64) + u64(1 << 61) + u64(1))]),
     'array of 2305843009213693952 UINT64 elements exceeds')
case('string_array_length_too_large.gguf',
     gguf([kv('tokenizer.ggml.tokens', ARRAY, u32(STRING) + u64(3 << 60) + gstr('a'))]),
     'array of 3458764513820540928 STRING elements exceeds')
nested = u32(INT8) + u64(1) + b'\1'
for _ in range(9):
    nested = u32(ARRAY) + u64(1) + nested
case('nested_too_deep.gguf', gguf([kv('x.deep', ARRAY, nested)]), 'arrays nested deeper than 8')
case('unknown_value_type.gguf', gguf([kv('x.v', 13, u32(0))]), 'unknown value type 13')
case('unknown_array_type.gguf', gguf([kv('x.a', ARRAY, u32(99) + u64(1) + u32(0))]), 'unknown value type 99')
case('bad_bool.gguf', gguf([kv('x.flag', BOOL, b'\2')]), 'bool value 2 is neither 0 nor 1')
case('duplicate_key.gguf', gguf([ARCH, kv('x.n', UINT8, b'\1'), ARCH]), 'duplicate key')
case('alignment_not_power_of_two.gguf', gguf([kv('general.alignment', UINT32, u32(48))]),
     '48 is not a non-zero power of two')
case('alignment_zero.gguf', gguf([kv('general.alignment', UINT32, u32(0))]), '0 is not a non-zero power of two')
case('alignment_wrong_type.gguf', gguf([kv('general.alignment', UINT64, u64(32))]), 'must be UINT32, got UINT64')
case('too_many_dims.gguf', gguf([ARCH], [tinfo('t', [1, 1, 1, 1, 1], F32, 0)], b'\0' * 32),
     'n_dims 5 exceeds the maximum of 4')
case('element_count_overflow.gguf', gguf([ARCH], [tinfo('t', [1 << 32, 1 << 32], F32, 0)], b'\0' * 32),
     'overflows int64')
case('dimension_negative.gguf', gguf([ARCH], [tinfo('t', [1 << 63], F32, 0)], b'\0' * 32), 'overflows int64')
case('unknown_ggml_type_removed.gguf', gguf([ARCH], [tinfo('t', [32], 4, 0)], b'\0' * 32), 'unknown ggml type 4')
case('unknown_ggml_type_large.gguf', gguf([ARCH], [tinfo('t', [32], 1000, 0)], b'\0' * 32),
     'unknown ggml type 1000')
case('block_size_mismatch.gguf', gguf([ARCH], [tinfo('t', [33], Q4_0, 0)], b'\0' * 32),
     'is not a multiple of the block size 32 of Q4_0')
case('misaligned_offset.gguf', gguf([ARCH], [tinfo('t', [4], F32, 16)], b'\0' * 64),
     'data offset 16 is not a multiple of the alignment 32')
case('data_out_of_bounds.gguf', gguf([ARCH], [tinfo('t', [64], F32, 0)], b'\0' * 32), 'out of bounds')
case('data_offset_huge.gguf', gguf([ARCH], [tinfo('t', [4], F32, 1 << 63)], b'\0' * 32), 'out of bounds')
case('truncated_data.gguf', valid[:-20], 'out of bounds')
case('overlapping_tensors.gguf', gguf([ARCH], [tinfo('a', [8], F32, 0), tinfo('b', [8], F32, 0)], b'\0' * 32),
     "overlaps tensor 'a'")
case('duplicate_tensor.gguf', gguf([ARCH], [tinfo('a', [4], F32, 0), tinfo('a', [4], F32, 32)], b'\0' * 64),
     'duplicate tensor name')


def main():
    with open(os.path.join(HERE, 'EXPECTED.txt'), 'w') as listing:
        listing.write('# file<TAB>words the error must contain (generated by make_corpus.py)\n')
        for name, data, expected in cases:
            assert '\t' not in expected and ';' not in expected
            with open(os.path.join(HERE, name), 'wb') as f:
                f.write(data)
            listing.write(f'{name}\t{expected}\n')


if __name__ == '__main__':
    main()
