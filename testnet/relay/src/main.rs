//! `testnet-relay`: the wire of ranat's test bed when it needs delay.
//!
//! The test bed's kernel has no netem, so a link with delay is made of two
//! veth ends and this program between them: every frame that arrives on one
//! interface is sent out of the other after a one-way delay (with optional
//! jitter), unless it is drawn for loss. Both directions are impaired alike.
//! It runs until it is killed.

mod checksum;
mod relay;
mod socket;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::mpsc::channel;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use relay::Impairment;
use socket::PacketSocket;

const USAGE: &str = "usage: testnet-relay IFACE_A IFACE_B [--delay-ms MS] [--jitter-ms MS] [--loss PERCENT] [--seed N]

Relays Ethernet frames between two interfaces (AF_PACKET, needs CAP_NET_RAW),
delaying each frame by MS milliseconds (± jitter) in each direction and
dropping PERCENT % of them. Runs until killed.";

#[derive(Debug, PartialEq)]
struct Options {
    a: String,
    b: String,
    impairment: Impairment,
    seed: Option<u64>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut interfaces = Vec::new();
    let mut impairment = Impairment {
        delay: Duration::ZERO,
        jitter: Duration::ZERO,
        loss_percent: 0.0,
    };
    let mut seed = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| format!("{name} needs a value"))
                .cloned()
        };
        match arg.as_str() {
            "--delay-ms" => impairment.delay = milliseconds(&value(arg)?)?,
            "--jitter-ms" => impairment.jitter = milliseconds(&value(arg)?)?,
            "--loss" => {
                let text = value(arg)?;
                impairment.loss_percent = text
                    .parse::<f64>()
                    .ok()
                    .filter(|loss| (0.0..=100.0).contains(loss))
                    .ok_or_else(|| {
                        format!("--loss takes a percentage from 0 to 100, not {text:?}")
                    })?;
            }
            "--seed" => {
                let text = value(arg)?;
                seed = Some(
                    text.parse()
                        .map_err(|_| format!("--seed takes an integer, not {text:?}"))?,
                );
            }
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            interface => interfaces.push(interface.to_owned()),
        }
    }
    let [a, b]: [String; 2] = interfaces
        .try_into()
        .map_err(|_| "give exactly two interfaces".to_owned())?;
    if a == b {
        return Err("the two interfaces must differ".to_owned());
    }
    Ok(Options {
        a,
        b,
        impairment,
        seed,
    })
}

fn milliseconds(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .ok_or_else(|| format!("expected a non-negative number of milliseconds, not {text:?}"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "-h" || arg == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let options = match parse(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("testnet-relay: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let open = |name: &str| {
        PacketSocket::bind(name).map(Arc::new).map_err(|error| {
            eprintln!("testnet-relay: cannot open a packet socket on {name}: {error}")
        })
    };
    let (Ok(a), Ok(b)) = (open(&options.a), open(&options.b)) else {
        return ExitCode::FAILURE;
    };
    let seed = options.seed.unwrap_or_else(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos() as u64);
        nanos ^ u64::from(std::process::id())
    });

    let (errors, first_error) = channel();
    let (name_a, name_b) = (&options.a, &options.b);
    relay::spawn(
        format!("{name_a} -> {name_b}"),
        Arc::clone(&a),
        Arc::clone(&b),
        options.impairment,
        seed,
        errors.clone(),
    );
    relay::spawn(
        format!("{name_b} -> {name_a}"),
        b,
        a,
        options.impairment,
        seed.rotate_left(32),
        errors,
    );
    let Impairment {
        delay,
        jitter,
        loss_percent,
    } = options.impairment;
    eprintln!(
        "testnet-relay: {name_a} <-> {name_b}: delay {delay:?} ± {jitter:?}, loss {loss_percent} %"
    );
    match first_error.recv() {
        Ok((direction, error)) => eprintln!("testnet-relay: {direction}: {error}"),
        Err(_) => eprintln!("testnet-relay: all relay threads stopped"),
    }
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn parses_interfaces_and_impairments() {
        let options = parse(&args(
            "r1 r1x --delay-ms 25 --jitter-ms 2.5 --loss 5 --seed 9",
        ))
        .unwrap();
        assert_eq!(options.a, "r1");
        assert_eq!(options.b, "r1x");
        assert_eq!(options.impairment.delay, Duration::from_millis(25));
        assert_eq!(options.impairment.jitter, Duration::from_micros(2500));
        assert_eq!(options.impairment.loss_percent, 5.0);
        assert_eq!(options.seed, Some(9));
    }

    #[test]
    fn rejects_bad_arguments() {
        assert!(parse(&args("r1")).is_err());
        assert!(parse(&args("r1 r1")).is_err());
        assert!(parse(&args("r1 r2 r3")).is_err());
        assert!(parse(&args("r1 r2 --loss 150")).is_err());
        assert!(parse(&args("r1 r2 --delay-ms -1")).is_err());
        assert!(parse(&args("r1 r2 --delay-ms")).is_err());
        assert!(parse(&args("r1 r2 --bogus 1")).is_err());
    }
}
