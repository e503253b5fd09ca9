//! AFL++ target: the `.npy` grid reader on arbitrary bytes, as a file of known length and as
//! a pipe. A panic aborts (a crash for AFL); run it under `afl-fuzz -m` so that an allocation
//! sized by a header instead of by the bytes fails and aborts too.

use std::path::Path;

use lancehead::io::npy::read_grid_from;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        for length in [Some(data.len() as u64), None] {
            let _ = read_grid_from(data, length, Path::new("fuzz.npy"), "--init");
        }
    });
}
