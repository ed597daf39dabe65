//! BENCHMARKS.md: the machine, the command, and per figure the median and every run for
//! Switchboard and its limit (the relay, or the console's plain page), with their ratio and
//! the target. Only the part between the markers is rewritten; text written by hand around it
//! is kept.

use crate::{stats::median, system::Machine};

pub const BEGIN: &str = "<!-- bench:begin (written by `make bench`; edit outside the markers) -->";
pub const END: &str = "<!-- bench:end -->";

/// What a figure should reach.
#[derive(Debug, Clone, Copy)]
pub enum Goal {
    AtLeast(f64),
    Below(f64),
}

impl Goal {
    fn met(self, value: f64) -> bool {
        match self {
            Goal::AtLeast(goal) => value >= goal,
            Goal::Below(goal) => value < goal,
        }
    }

    fn describe(self) -> String {
        match self {
            Goal::AtLeast(goal) => format!("≥ {}", number(goal)),
            Goal::Below(goal) => format!("< {}", number(goal)),
        }
    }
}

/// One measured quantity over the runs.
#[derive(Debug, Clone)]
pub struct Figure {
    pub name: String,
    pub unit: String,
    pub switchboard: Vec<f64>,
    /// The same figure of the limit measured in the same run: the bare relay for the server,
    /// the plain page (tests/bench/plain/) for the console.
    pub relay: Vec<f64>,
    pub goal: Option<Goal>,
}

impl Figure {
    pub fn new(name: impl Into<String>, unit: impl Into<String>, goal: Option<Goal>) -> Self {
        Figure {
            name: name.into(),
            unit: unit.into(),
            switchboard: Vec::new(),
            relay: Vec::new(),
            goal,
        }
    }

    /// Switchboard's median over the relay's; `None` when the relay's is zero.
    pub fn ratio(&self) -> Option<f64> {
        let relay = median(&self.relay);
        (relay != 0.0 && relay.is_finite()).then(|| median(&self.switchboard) / relay)
    }
}

/// A number with as many decimals as its size deserves.
pub fn number(value: f64) -> String {
    if !value.is_finite() {
        return "–".into();
    }
    if value == 0.0 {
        return "0".into();
    }
    let decimals = match value.abs() {
        v if v >= 100.0 => 0,
        v if v >= 10.0 => 1,
        v if v >= 1.0 => 2,
        _ => 3,
    };
    let text = format!("{value:.decimals$}");
    // Thousands separators for the integer part.
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        "" => format!("{sign}{grouped}"),
        frac => format!("{sign}{grouped}.{frac}"),
    }
}

fn runs(values: &[f64]) -> String {
    values
        .iter()
        .map(|v| number(*v))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// A section of figures under a heading.
pub struct Section {
    pub title: String,
    pub about: String,
    pub figures: Vec<Figure>,
}

/// Renders the generated part (between the markers).
pub fn render(machine: &Machine, command: &str, notes: &[String], sections: &[Section]) -> String {
    let mut out = String::new();
    out.push_str(BEGIN);
    out.push_str("\n\n## Machine and command\n\n");
    out.push_str(&format!(
        "* CPU: {} ({} cores)\n* RAM: {:.1} GiB\n* kernel: {}\n* {}\n* date: {}\n* command: `{command}`\n",
        machine.cpu, machine.cores, machine.ram_gib, machine.kernel, machine.rustc, machine.date
    ));
    for note in notes {
        out.push_str(&format!("* {note}\n"));
    }
    for section in sections {
        out.push_str(&format!("\n## {}\n\n{}\n\n", section.title, section.about));
        out.push_str(
            "| figure | Switchboard median | runs | limit median | runs | ratio to limit | target | met |\n\
             | --- | ---: | --- | ---: | --- | ---: | --- | --- |\n",
        );
        for figure in &section.figures {
            let sb = median(&figure.switchboard);
            let (goal, met) = match figure.goal {
                Some(goal) => (goal.describe(), if goal.met(sb) { "yes" } else { "**no**" }),
                None => (String::new(), ""),
            };
            let ratio = figure
                .ratio()
                .map_or_else(|| "–".into(), |r| format!("{r:.2}×"));
            out.push_str(&format!(
                "| {} ({}) | {} | {} | {} | {} | {ratio} | {goal} | {met} |\n",
                figure.name,
                figure.unit,
                number(sb),
                runs(&figure.switchboard),
                number(median(&figure.relay)),
                runs(&figure.relay),
            ));
        }
    }
    out.push('\n');
    out.push_str(END);
    out
}

/// `existing` with its generated part replaced by `generated` (appended when it has none).
pub fn splice(existing: &str, generated: &str) -> String {
    match (existing.find(BEGIN), existing.find(END)) {
        (Some(begin), Some(end)) if end > begin => format!(
            "{}{generated}{}",
            &existing[..begin],
            &existing[end + END.len()..]
        ),
        _ if existing.trim().is_empty() => format!("# Benchmarks\n\n{generated}\n"),
        _ => format!("{}\n\n{generated}\n", existing.trim_end()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_and_rounded_to_their_size() {
        assert_eq!(number(10_000.4), "10,000");
        assert_eq!(number(1_234_567.0), "1,234,567");
        assert_eq!(number(45.67), "45.7");
        assert_eq!(number(3.456), "3.46");
        assert_eq!(number(0.01234), "0.012");
        assert_eq!(number(-2500.0), "-2,500");
        assert_eq!(number(f64::NAN), "–");
        assert_eq!(number(0.0), "0");
    }

    #[test]
    fn only_the_generated_part_is_replaced() {
        let old = format!("# Benchmarks\n\nby hand\n\n{BEGIN}\nold figures\n{END}\n\nafter\n");
        let new = splice(&old, &format!("{BEGIN}\nnew\n{END}"));
        assert_eq!(
            new,
            format!("# Benchmarks\n\nby hand\n\n{BEGIN}\nnew\n{END}\n\nafter\n")
        );
        assert!(splice("", "x").starts_with("# Benchmarks"));
        assert_eq!(splice("notes", "x"), "notes\n\nx\n");
    }

    #[test]
    fn goals_and_ratios() {
        let mut figure = Figure::new("acknowledged", "msgs/s", Some(Goal::AtLeast(10.0)));
        figure.switchboard = vec![4.0, 6.0, 5.0];
        figure.relay = vec![10.0, 10.0, 10.0];
        assert_eq!(figure.ratio(), Some(0.5));
        assert!(!Goal::AtLeast(10.0).met(5.0));
        assert!(Goal::Below(50.0).met(49.0));
        let machine = Machine::describe();
        let text = render(
            &machine,
            "make bench",
            &[],
            &[Section {
                title: "Chat".into(),
                about: "about".into(),
                figures: vec![figure],
            }],
        );
        assert!(text.contains("| acknowledged (msgs/s) | 5.00 | 4.00 / 6.00 / 5.00 | 10.0 |"));
        assert!(text.contains("0.50×") && text.contains("**no**"));
    }
}
