//! Progress bars on a terminal (indicatif draws nothing when stderr is not one, so scripts see clean output).

use indicatif::{ProgressBar, ProgressStyle};

use crate::generate::Progress;

pub struct Bar {
    bar: ProgressBar,
}

impl Bar {
    pub fn new() -> Self {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{msg:<24} [{bar:32}] {pos}/{len} ({eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        Bar { bar }
    }
}

impl Progress for Bar {
    fn set_stage(&self, stage: &str, total_units: u64) {
        self.bar.set_message(stage.to_string());
        self.bar.set_length(total_units);
        self.bar.set_position(0);
    }
    fn advance(&self, units: u64) {
        self.bar.inc(units);
    }
    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
