//! Properties over arbitrary runs: a novice and an expert wired to each
//! other, with arbitrary actions, screens, keys and delivery orders, and
//! in the hostile runs arbitrary messages injected either way. After
//! every step the novice's machine is checked against what it has said
//! and heard; honest runs end with both sides in the same state.

use proptest::prelude::*;

use super::tests::Pair;
use super::*;
use crate::proto::rendezvous::Role;
use crate::proto::screen::ScreenUpdate;

/// One step of a run.
#[derive(Debug, Clone)]
enum Step {
    Novice(Action),
    Expert(Action),
    Share {
        full: bool,
        oversize: bool,
    },
    Type(Vec<u8>),
    /// Deliver the next message in flight to the novice.
    ToNovice,
    ToExpert,
    /// A message the novice's peer did not send: forged, or sent by a
    /// modified expert.
    ForgedToNovice(Message),
    ForgedToExpert(Message),
    NoviceReadsGarbage,
}

/// What the novice's machine has said and heard, kept apart from its
/// state: what it may do follows from this alone.
#[derive(Debug, Default)]
struct NoviceRecord {
    approved: bool,
    paused: bool,
    granted: bool,
    ended: bool,
    said_last: bool,
    /// A NeedFullScreen not yet answered by a full snapshot.
    owes_full: bool,
    /// The state last announced.
    announced: Option<State>,
}

/// The run so far and its checks.
struct Run {
    pair: Pair,
    policy: Policy,
    novice: NoviceRecord,
    expert_announced: Option<State>,
    screens_sent: Vec<ScreenUpdate>,
    screens_shown: Vec<ScreenUpdate>,
}

impl Run {
    fn new(policy: Policy) -> Self {
        let mut run = Self {
            pair: Pair::new(policy),
            policy,
            novice: NoviceRecord::default(),
            expert_announced: None,
            screens_sent: Vec::new(),
            screens_shown: Vec::new(),
        };
        run.observe();
        run
    }

    fn step(&mut self, step: Step) {
        let pair = &mut self.pair;
        match step {
            Step::Novice(action) => {
                let _ = pair.novice.act(action);
            }
            Step::Expert(action) => {
                let _ = pair.expert.act(action);
            }
            Step::Share { full, oversize } => {
                let len = if oversize { MAX_SCREEN + 1 } else { 3 };
                pair.novice.share_screen(ScreenUpdate {
                    rows: 24,
                    cols: 80,
                    full,
                    bytes: vec![b'#'; len],
                });
            }
            Step::Type(bytes) => pair.expert.type_keys(&bytes),
            Step::ToNovice => {
                if let Some(message) = pair.to_novice.pop_front() {
                    self.novice_hears(message);
                }
            }
            Step::ToExpert => {
                if let Some(message) = pair.to_expert.pop_front() {
                    pair.expert.handle_peer(message);
                }
            }
            Step::ForgedToNovice(message) => self.novice_hears(message),
            Step::ForgedToExpert(message) => pair.expert.handle_peer(message),
            Step::NoviceReadsGarbage => pair.novice.handle_malformed(FrameError::UnknownKind(0)),
        }
        self.observe();
    }

    fn novice_hears(&mut self, message: Message) {
        if message == Message::ControlRelease && !self.novice.ended {
            self.novice.granted = false;
        }
        self.pair.novice.handle_peer(message);
    }

    /// Everything in flight delivered, in turns, until nothing is.
    fn settle(&mut self) {
        for _ in 0..1000 {
            if self.pair.to_novice.is_empty() && self.pair.to_expert.is_empty() {
                return;
            }
            self.step(Step::ToNovice);
            self.step(Step::ToExpert);
        }
        panic!("the two sides never fall quiet");
    }

    /// Both sides' output since the last step, checked; the messages put
    /// in flight.
    fn observe(&mut self) {
        let record = &mut self.novice;
        while let Some(message) = self.pair.novice.poll_send() {
            assert!(!record.said_last, "{message:?} after the last message");
            match &message {
                Message::Screen(update) => {
                    assert!(record.approved && !record.paused && !record.ended);
                    assert!(update.full || !record.owes_full, "a diff before the full");
                    assert!(update.bytes.len() <= MAX_SCREEN);
                    record.owes_full &= !update.full;
                    self.screens_sent.push(update.clone());
                }
                Message::Chat { .. } => assert!(record.approved),
                Message::Approval { allowed } => {
                    record.approved = *allowed;
                    record.said_last = !allowed;
                }
                Message::Pause => record.paused = true,
                Message::Continue => record.paused = false,
                Message::ControlGrant => {
                    assert!(
                        self.policy.allow_control,
                        "control granted against the policy"
                    );
                    record.granted = true;
                }
                Message::ControlRevoke => record.granted = false,
                Message::Bye { .. } => record.said_last = true,
                _ => {}
            }
            self.pair.to_expert.push_back(message);
        }
        while let Some(event) = self.pair.novice.poll_event() {
            match event {
                Event::KeysForShell(_) => {
                    assert!(record.granted && !record.paused && !record.ended);
                }
                Event::ChatReceived(_) => assert!(record.approved),
                Event::ControlRequested => {
                    assert!(self.policy.allow_control, "asked against the policy");
                }
                Event::ShowScreen(_) | Event::ClearScreen => panic!("{event:?} at the novice"),
                Event::NeedFullScreen => record.owes_full = true,
                Event::StateChanged(state) => record.announced = Some(state),
                Event::Ended { .. } => {
                    record.ended = true;
                    record.granted = false;
                }
                _ => {}
            }
        }
        let novice = &self.pair.novice;
        let live = record.approved && !record.paused && !record.ended;
        assert_eq!(novice.may_show_screen(), live);
        assert_eq!(novice.keys_reach_shell(), live && record.granted);
        assert_eq!(novice.state() == State::Ended, record.ended);
        if let Some(state) = record.announced {
            assert_eq!(novice.state(), state, "every change is announced");
        }

        while let Some(message) = self.pair.expert.poll_send() {
            if matches!(message, Message::Keys { .. }) {
                assert!(self.pair.expert.keys_reach_shell());
            }
            if matches!(message, Message::Chat { .. }) {
                assert!(self.pair.expert.state().approved());
            }
            self.pair.to_novice.push_back(message);
        }
        while let Some(event) = self.pair.expert.poll_event() {
            match event {
                Event::ShowScreen(update) => {
                    assert!(self.pair.expert.may_show_screen());
                    self.screens_shown.push(update);
                }
                Event::KeysForShell(_) | Event::ApprovalAsked { .. } | Event::NeedFullScreen => {
                    panic!("{event:?} at the expert")
                }
                Event::StateChanged(state) => self.expert_announced = Some(state),
                _ => {}
            }
        }
        if let Some(state) = self.expert_announced {
            assert_eq!(self.pair.expert.state(), state, "every change is announced");
        }
    }
}

/// The most steps in a run.
const STEPS: usize = 160;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[a-zé ]{1,12}"]
}

/// What a novice does, mostly what it may do; never an end.
fn novice_action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => Just(Action::Approve),
        6 => Just(Action::GrantControl),
        2 => Just(Action::DenyControl),
        1 => Just(Action::TakeControlBack),
        3 => Just(Action::Pause),
        3 => Just(Action::Continue),
        2 => text().prop_map(Action::Chat),
    ]
}

/// What an expert does, mostly what it may do; never an end.
fn expert_action() -> impl Strategy<Value = Action> {
    prop_oneof![
        5 => Just(Action::RequestControl),
        1 => Just(Action::ReleaseControl),
        2 => text().prop_map(Action::Chat),
    ]
}

/// Either side's action, whoever it is for.
fn any_action() -> impl Strategy<Value = Action> {
    prop_oneof![novice_action(), expert_action()]
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (
            text(),
            prop_oneof![Just(ASSIST_VERSION), any::<u16>()],
            prop_oneof![Just(Role::Novice), Just(Role::Helper)]
        )
            .prop_map(|(name, version, role)| Message::Hello {
                name,
                version,
                role
            }),
        any::<bool>().prop_map(|allowed| Message::Approval { allowed }),
        any::<bool>().prop_map(|full| Message::Screen(ScreenUpdate {
            rows: 1,
            cols: 1,
            full,
            bytes: b"forged".to_vec(),
        })),
        text().prop_map(|text| Message::Chat { text }),
        Just(Message::ControlRequest),
        Just(Message::ControlGrant),
        any::<bool>().prop_map(|by_policy| Message::ControlDeny { by_policy }),
        Just(Message::ControlRevoke),
        Just(Message::ControlRelease),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(|bytes| Message::Keys { bytes }),
        Just(Message::Pause),
        Just(Message::Continue),
        text().prop_map(|reason| Message::Bye { reason }),
    ]
}

/// A step of honest sides. Ends are rare, so that most runs get far.
fn honest_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        24 => novice_action().prop_map(Step::Novice),
        15 => expert_action().prop_map(Step::Expert),
        2 => any_action().prop_map(Step::Novice),
        2 => any_action().prop_map(Step::Expert),
        12 => (any::<bool>(), prop::bool::weighted(0.02))
            .prop_map(|(full, oversize)| Step::Share { full, oversize }),
        12 => prop_oneof![
            9 => prop::collection::vec(any::<u8>(), 1..8),
            1 => Just(vec![b'k'; MAX_KEYS + 1]),
        ]
        .prop_map(Step::Type),
        30 => Just(Step::ToNovice),
        30 => Just(Step::ToExpert),
        1 => prop_oneof![
            Just(Step::Novice(Action::Refuse)),
            text().prop_map(|reason| Step::Novice(Action::Disconnect(reason))),
            text().prop_map(|reason| Step::Expert(Action::Disconnect(reason))),
            Just(Step::NoviceReadsGarbage),
        ],
    ]
}

fn hostile_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        10 => honest_step(),
        1 => message().prop_map(Step::ForgedToNovice),
        1 => message().prop_map(Step::ForgedToExpert),
    ]
}

fn policy() -> impl Strategy<Value = Policy> {
    any::<bool>().prop_map(|allow_control| Policy { allow_control })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Honest sides, any actions in any order, messages crossing: the
    /// novice's rules hold at every step, the expert shows exactly what
    /// the novice sent, and once every message is in both sides agree.
    #[test]
    fn honest_sides_keep_the_rules_and_agree(
        policy in policy(),
        steps in prop::collection::vec(honest_step(), 0..STEPS),
    ) {
        let mut run = Run::new(policy);
        for step in steps {
            run.step(step);
        }
        run.settle();
        prop_assert_eq!(run.pair.novice.state(), run.pair.expert.state());
        prop_assert!(run.screens_sent.starts_with(&run.screens_shown));
        if run.pair.expert.state() != State::Ended {
            prop_assert_eq!(&run.screens_sent, &run.screens_shown);
        }
    }

    /// Forged messages either way as well: the novice's machine still
    /// sends no screen before the approval or while paused, hands no key
    /// to the shell without granted control, and no chat crosses before
    /// the approval.
    #[test]
    fn forged_messages_never_break_the_novices_rules(
        policy in policy(),
        steps in prop::collection::vec(hostile_step(), 0..STEPS),
    ) {
        let mut run = Run::new(policy);
        for step in steps {
            run.step(step);
        }
        run.settle();
    }

    /// Every message within the limits comes back from its frame, however
    /// the stream is cut.
    #[test]
    fn frames_round_trip_however_cut(
        messages in prop::collection::vec(message(), 1..8),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let stream: Vec<u8> = messages.iter().flat_map(encode).collect();
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(stream.len())).collect();
        cuts.sort_unstable();
        let mut decoder = FrameDecoder::new();
        let mut out = Vec::new();
        let mut from = 0;
        for to in cuts.into_iter().chain([stream.len()]) {
            decoder.push(&stream[from..to]);
            from = to;
            for message in decoder.by_ref() {
                out.push(message.expect("a valid stream"));
            }
        }
        prop_assert_eq!(out, messages);
    }

    /// Any bytes at all: messages or one error, never a panic, and
    /// nothing after the error.
    #[test]
    fn garbage_never_panics_the_decoder(
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..8),
    ) {
        let mut decoder = FrameDecoder::new();
        let mut failed = false;
        for chunk in chunks {
            decoder.push(&chunk);
            for result in decoder.by_ref() {
                prop_assert!(!failed, "a result after the error");
                failed = result.is_err();
            }
        }
    }
}
