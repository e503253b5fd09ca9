#!/usr/bin/env python3
"""Writes the seed corpus of the `.npy` reader's fuzzing into fuzz/corpus/npy/.

Standard library only (the format is small enough to write by hand, as numpy's
numpy/lib/format.py does): valid files of each header version, byte order and layout, their
truncations, and the hostile headers that the red-team pass and the fuzzers found. Run from
anywhere; the seeds are committed, so this is only needed to change them.
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "npy")


def header(version, dict_text, header_len=None):
    """The magic string, version, HEADER_LEN and the dict padded as numpy pads it."""
    prefix = 10 if version == 1 else 12
    text = dict_text.encode("utf-8")
    pad = (-(prefix + len(text) + 1)) % 64
    text += b" " * pad + b"\n"
    length = len(text) if header_len is None else header_len
    size = struct.pack("<H", length) if version == 1 else struct.pack("<I", length)
    return b"\x93NUMPY" + bytes([version, 0]) + size + text


def grid_dict(shape, descr="<f8", fortran=False):
    return "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)


def values(rows, cols, order="<"):
    return b"".join(struct.pack(order + "d", 0.25 * i - 1.0) for i in range(rows * cols))


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {}
    for v in (1, 2, 3):
        seeds[f"valid_v{v}_3x4.npy"] = header(v, grid_dict("(3, 4)")) + values(3, 4)
    seeds["valid_big_endian_3x4.npy"] = header(1, grid_dict("(3, 4)", ">f8")) + values(3, 4, ">")
    seeds["valid_fortran_3x4.npy"] = header(1, grid_dict("(3, 4)", fortran=True)) + values(4, 3)
    seeds["valid_1x1.npy"] = header(1, grid_dict("(1, 1)")) + values(1, 1)
    seeds["valid_v3_utf8_key_order.npy"] = (
        header(3, "{'shape': (2, 2), 'fortran_order': False, 'descr': '<f8'}") + values(2, 2)
    )
    valid = seeds["valid_v1_3x4.npy"]
    for cut in (3, 9, 40, 64 + 7, len(valid) - 1):
        seeds[f"truncated_v1_at_{cut}.npy"] = valid[:cut]
    seeds["truncated_v2_in_length.npy"] = seeds["valid_v2_3x4.npy"][:10]
    # The red-team file: 96 bytes whose header claims 100000 x 100000 float64 (80 GB).
    d = grid_dict("(100000, 100000)").encode()
    seeds["hostile_96_bytes_claims_80GB.npy"] = (
        b"\x93NUMPY\x01\x00" + struct.pack("<H", 86) + d + b" " * (85 - len(d)) + b"\n"
    )
    for v in (2, 3):
        seeds[f"hostile_v{v}_header_len_4GiB.npy"] = (
            header(v, grid_dict("(2, 2)"), header_len=0xFFFFFFF0) + values(2, 2)
        )
    seeds["hostile_v1_header_len_past_end.npy"] = header(1, grid_dict("(2, 2)"), 0xFFFF)
    seeds["hostile_shape_2_62_elements.npy"] = header(3, grid_dict("(2147483648, 2147483648)"))
    seeds["hostile_shape_beyond_u64.npy"] = header(1, grid_dict("(99999999999999999999999, 1)"))
    seeds["hostile_shape_negative.npy"] = header(1, grid_dict("(-1, 4)"))
    seeds["hostile_nested_3000.npy"] = header(
        1, grid_dict("(" * 3000 + "2" + ")" * 3000)
    )
    seeds["hostile_long_descr.npy"] = header(2, grid_dict("(2, 2)", "z" * 9000)) + values(2, 2)
    seeds["bad_rank_3.npy"] = header(1, grid_dict("(2, 2, 2)")) + values(2, 4)
    seeds["bad_rank_0.npy"] = header(1, grid_dict("()")) + values(1, 1)
    seeds["bad_empty_0x4.npy"] = header(1, grid_dict("(0, 4)"))
    seeds["bad_dtype_u4.npy"] = header(1, grid_dict("(2, 2)", "<u4")) + b"\0" * 16
    seeds["bad_nan.npy"] = header(1, grid_dict("(1, 2)")) + struct.pack("<dd", 1.0, float("nan"))
    seeds["bad_inf.npy"] = header(1, grid_dict("(1, 2)")) + struct.pack("<dd", float("inf"), 1.0)
    seeds["bad_trailing_bytes.npy"] = valid + b"\0" * 8
    seeds["bad_version_4.npy"] = b"\x93NUMPY\x04\x00" + valid[8:]
    seeds["bad_no_newline.npy"] = valid[:127] + b" " + valid[128:]  # the header ends at 128
    seeds["bad_v1_non_ascii.npy"] = header(1, grid_dict("(3, 4)", "<f8\u00e9")) + values(3, 4)
    seeds["bad_magic.npy"] = b"\x93NUMPZ" + valid[6:]
    seeds["empty.npy"] = b""
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"{len(seeds)} seeds in {OUT}")


if __name__ == "__main__":
    main()
