//! Fuzzing the `.npy` reader on stable Rust: arbitrary bytes, headers built from hostile
//! parts, and mutations of the corpus (`fuzz/corpus/npy`, replayed here file by file).
//!
//! Every input is read twice, as a file of known length and as a pipe (length unknown), and
//! must give a grid or a one-line error within 5 seconds: no panic, no stack overflow, no
//! runaway parse, and no allocation larger than the bytes it was given (twice that for a pipe,
//! whose buffer grows as data arrives) plus a fixed allowance, so no header can size an
//! allocation. A counting allocator watches the largest single request of the reading thread.
//!
//! `PROPTEST_CASES=N` sets the cases of each property (default 1000); the cargo-afl target
//! in `fuzz/` runs the same check under AFL++ (see `fuzz/README.md`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use lancehead::io::npy::{MAX_HEADER_LEN, read_grid_from};
use proptest::prelude::*;

/// The largest single allocation of the current thread since the last reset.
struct Largest;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn record(size: usize) {
    // `try_with`: the thread-local is gone while a thread is torn down.
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
}

// SAFETY: every call is forwarded to `System` unchanged; the bookkeeping allocates nothing.
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Largest = Largest;

/// What any input may allocate beyond its own bytes: the reader's buffers, the header's
/// parse, an error message.
const ALLOWANCE: usize = 256 << 10;

/// How long one read may take: a few kilobytes read in microseconds, but AFL++ once found
/// headers that kept the parser busy for more than ten minutes.
const TIME_LIMIT: Duration = Duration::from_secs(5);

/// Reads `bytes` both ways and checks the rules above; a failure names the input. Each read
/// runs on a thread of its own, so that one which never ends fails the test instead of
/// hanging it.
fn check(bytes: &[u8]) {
    for length in [Some(bytes.len() as u64), None] {
        let (sender, receiver) = mpsc::channel();
        let input = bytes.to_vec();
        std::thread::spawn(move || {
            LARGEST.with(|l| l.set(0));
            let result = std::panic::catch_unwind(|| {
                read_grid_from(&input[..], length, Path::new("fuzz.npy"), "--init")
                    .map_err(|e| e.to_string())
            });
            let largest = LARGEST.with(Cell::get);
            let _ = sender.send((result.ok(), largest));
        });
        let Ok((result, largest)) = receiver.recv_timeout(TIME_LIMIT) else {
            panic!(
                "still reading {} bytes (length {length:?}) after {TIME_LIMIT:?}: {:?}",
                bytes.len(),
                head(bytes)
            );
        };
        let Some(result) = result else {
            panic!(
                "read_grid_from panicked (length {length:?}) on {} bytes: {:?}",
                bytes.len(),
                head(bytes)
            );
        };
        let limit = match length {
            Some(_) => bytes.len(),
            None => 2 * bytes.len(),
        } + ALLOWANCE;
        assert!(
            largest <= limit,
            "an allocation of {largest} bytes for {} bytes of input (length {length:?}): {:?}",
            bytes.len(),
            head(bytes)
        );
        match result {
            Ok(grid) => {
                assert!(!grid.is_empty() && grid.iter().all(|v| v.is_finite()));
                assert!(
                    bytes.len() >= 10 + 8 * grid.len(),
                    "a grid beyond the input"
                );
            }
            Err(message) => {
                assert!(!message.contains('\n'), "two lines: {message}");
                assert!(message.len() < 1000, "{} bytes: {message}", message.len());
                assert!(message.starts_with("--init fuzz.npy: "), "{message}");
            }
        }
    }
}

/// The first bytes of an input, for a failure message.
fn head(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned()
}

/// The files of `fuzz/corpus/npy`, read once.
fn corpus() -> &'static [(PathBuf, Vec<u8>)] {
    static CORPUS: std::sync::OnceLock<Vec<(PathBuf, Vec<u8>)>> = std::sync::OnceLock::new();
    CORPUS.get_or_init(read_corpus)
}

fn read_corpus() -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/npy");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000)
}

#[test]
fn the_corpus_replays() {
    let corpus = corpus();
    assert!(corpus.len() >= 30, "{} files", corpus.len());
    let mut valid = 0;
    for (path, bytes) in corpus {
        eprintln!("{}", path.display());
        check(bytes);
        valid += usize::from(read_grid_from(&bytes[..], None, path, "--init").is_ok());
    }
    // The valid seeds read as grids (each version, byte order, layout), the rest are refused.
    let named_valid = corpus
        .iter()
        .filter(|(p, _)| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("valid_")
        })
        .count();
    assert_eq!(valid, named_valid);
}

/// A header dictionary from hostile parts.
fn dict() -> impl Strategy<Value = String> {
    let descr = prop_oneof![
        Just("'<f8'".to_string()),
        Just("'>f8'".to_string()),
        Just("'<u4'".to_string()),
        Just("'|b1'".to_string()),
        Just("[('a', '<f8')]".to_string()),
        "[a-z<>|0-9']{0,12}".prop_map(|s| format!("'{s}'")),
    ];
    let dim = prop_oneof![
        4 => 0usize..6,
        1 => Just(usize::MAX),
        1 => Just(1usize << 31),
        1 => Just(100_000usize),
        1 => any::<usize>(),
    ];
    let shape = prop_oneof![
        prop::collection::vec(dim, 0..4).prop_map(|d| {
            let parts: Vec<String> = d.iter().map(|n| n.to_string()).collect();
            match parts.len() {
                1 => format!("({},)", parts[0]),
                _ => format!("({})", parts.join(", ")),
            }
        }),
        Just("(-1, 4)".to_string()),
        Just("[2, 2]".to_string()),
        Just("(2.0, 2)".to_string()),
        (1usize..200).prop_map(|n| format!("{}2{}", "(".repeat(n), ")".repeat(n))),
    ];
    let fortran = prop_oneof![
        Just("False".to_string()),
        Just("True".to_string()),
        Just("0".to_string())
    ];
    (descr, fortran, shape, any::<bool>()).prop_map(|(descr, fortran, shape, trailing_comma)| {
        let comma = if trailing_comma { ", " } else { "" };
        format!("{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': {shape}{comma}}}")
    })
}

/// A whole file: version, header (true length, or a lie), padding and data.
fn structured() -> impl Strategy<Value = Vec<u8>> {
    let header_len = prop_oneof![
        6 => Just(None),
        1 => Just(Some(u32::MAX)),
        1 => Just(Some(MAX_HEADER_LEN as u32 + 1)),
        1 => any::<u32>().prop_map(Some),
        1 => (0u32..300).prop_map(Some),
    ];
    (
        1u8..=4,
        dict(),
        header_len,
        any::<bool>(),
        prop::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(version, dict, header_len, pad, data)| {
            let prefix = if version == 1 { 10 } else { 12 };
            let mut text = dict.into_bytes();
            if pad {
                while !(prefix + text.len() + 1).is_multiple_of(64) {
                    text.push(b' ');
                }
            }
            text.push(b'\n');
            let len = header_len.unwrap_or(text.len() as u32);
            let mut bytes = b"\x93NUMPY".to_vec();
            bytes.extend([version, 0]);
            if version == 1 {
                bytes.extend((len as u16).to_le_bytes());
            } else {
                bytes.extend(len.to_le_bytes());
            }
            bytes.extend(text);
            bytes.extend(data);
            bytes
        })
}

/// One change to a file.
#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, bit: u8 },
    Set { at: usize, byte: u8 },
    Truncate { at: usize },
    Insert { at: usize, bytes: Vec<u8> },
    Remove { at: usize, len: usize },
    HeaderLength { value: u32 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Set { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (any::<usize>(), 1usize..32).prop_map(|(at, len)| Mutation::Remove { at, len }),
        any::<u32>().prop_map(|value| Mutation::HeaderLength { value }),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let n = bytes.len().max(1);
        match m {
            Mutation::Flip { at, bit } if !bytes.is_empty() => bytes[at % n] ^= 1 << bit,
            Mutation::Set { at, byte } if !bytes.is_empty() => bytes[at % n] = *byte,
            Mutation::Truncate { at } => bytes.truncate(at % n),
            Mutation::Insert { at, bytes: b } => {
                let at = at % (bytes.len() + 1);
                bytes.splice(at..at, b.iter().copied());
            }
            Mutation::Remove { at, len } if !bytes.is_empty() => {
                let at = at % n;
                let end = (at + len).min(bytes.len());
                bytes.drain(at..end);
            }
            Mutation::HeaderLength { value } if bytes.len() >= 12 => {
                if bytes[6] == 1 {
                    bytes[8..10].copy_from_slice(&(*value as u16).to_le_bytes());
                } else {
                    bytes[8..12].copy_from_slice(&value.to_le_bytes());
                }
            }
            _ => {}
        }
    }
    bytes
}

/// The properties' settings: `PROPTEST_CASES` cases, and a failing case's seed kept in the
/// corpus folder, where every later run replays it first.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::Direct(
                "fuzz/corpus/proptest-regressions/fuzz_npy.txt",
            ),
        )),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        check(&bytes);
    }

    #[test]
    fn arbitrary_bytes_after_the_magic_string(
        version in 0u8..5,
        rest in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut bytes = b"\x93NUMPY".to_vec();
        bytes.extend([version, 0]);
        bytes.extend(rest);
        check(&bytes);
    }

    #[test]
    fn headers_from_hostile_parts(bytes in structured()) {
        check(&bytes);
    }

    #[test]
    fn mutations_of_the_corpus(
        seed in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let corpus = corpus();
        let (_, bytes) = &corpus[seed.index(corpus.len())];
        check(&mutate(bytes.clone(), &mutations));
    }
}
