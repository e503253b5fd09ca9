"""Python calling Lancehead through ctypes (standard library only, like the book's
Example 7-21): the book's Julia problem, printing the book's checksum, then a bad call and
the error it gets.

    cargo build --release --features capi
    python3 examples/python/book_checksum.py target/release/liblancehead.so [BACKEND]
"""

import ctypes
import sys


def load(path):
    lib = ctypes.CDLL(path)
    lib.lancehead_julia.argtypes = [
        ctypes.c_char_p,  # backend (None: scalar)
        ctypes.c_size_t,  # width
        ctypes.c_size_t,  # height
        ctypes.c_double,  # x1
        ctypes.c_double,  # x2
        ctypes.c_double,  # y1
        ctypes.c_double,  # y2
        ctypes.c_double,  # cr
        ctypes.c_double,  # ci
        ctypes.c_uint32,  # max_iter
        ctypes.POINTER(ctypes.c_uint32),  # counts
        ctypes.c_size_t,  # counts_len
    ]
    lib.lancehead_julia.restype = ctypes.c_int
    lib.lancehead_last_error.argtypes = []
    lib.lancehead_last_error.restype = ctypes.c_char_p
    return lib


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: book_checksum.py PATH/TO/liblancehead.so [BACKEND]")
    lib = load(sys.argv[1])
    backend = sys.argv[2] if len(sys.argv) == 3 else "scalar"

    width, height = 1000, 1000
    counts = (ctypes.c_uint32 * (width * height))()
    status = lib.lancehead_julia(backend.encode(), width, height, -1.8, 1.8, -1.8, 1.8,
                                 -0.62772, -0.42193, 300, counts, len(counts))
    if status != 0:
        sys.exit("lancehead_julia failed (%d): %s"
                 % (status, lib.lancehead_last_error().decode()))
    print("backend %s: julia 1000x1000 checksum %d" % (backend, sum(counts)))

    # A zero width is refused with a message naming the argument.
    status = lib.lancehead_julia(backend.encode(), 0, height, -1.8, 1.8, -1.8, 1.8,
                                 -0.62772, -0.42193, 300, counts, len(counts))
    print("zero width: status %d: %s" % (status, lib.lancehead_last_error().decode()))


if __name__ == "__main__":
    main()
