//! Prints the machine's limits as `lancehead compare` measures them at the start of every run
//! (`lancehead::harness::calibration`): the exact kernels' operation mixes on one core and on
//! all, the effective cores, and the memory bandwidth.
//!
//! ```text
//! cargo run --release --example machine_peak
//! ```

use lancehead::harness::calibration::Calibration;
use lancehead::report::markdown::calibration_lines;

fn main() {
    let c = Calibration::measure();
    println!(
        "calibration on {} threads, vector ISA {}, {:.2} s:",
        c.threads, c.vector_isa, c.seconds
    );
    for line in calibration_lines(&c) {
        println!("  {line}");
    }
    for m in &c.mixes {
        println!(
            "  {}: {:.3} ns per {} on one core ({:.2} effective cores)",
            m.kernel,
            1e9 / m.one_core_per_s,
            m.unit,
            m.effective_cores()
        );
    }
}
