//! A novice's and an expert's machine wired to each other: each
//! transition, each rule, and what the novice's machine refuses whatever
//! the expert's sends.

use std::collections::VecDeque;

use super::*;
use crate::proto::rendezvous::Role;
use crate::proto::screen::ScreenUpdate;

const ALLOW: Policy = Policy {
    allow_control: true,
};

/// The two machines and the messages in flight between them.
pub(super) struct Pair {
    pub novice: AssistSession,
    pub expert: AssistSession,
    pub to_novice: VecDeque<Message>,
    pub to_expert: VecDeque<Message>,
}

impl Pair {
    pub fn new(policy: Policy) -> Self {
        let mut pair = Self {
            novice: AssistSession::new(Role::Novice, policy, "Nina".to_owned()),
            expert: AssistSession::new(Role::Helper, ALLOW, "Eve".to_owned()),
            to_novice: VecDeque::new(),
            to_expert: VecDeque::new(),
        };
        pair.collect();
        pair
    }

    /// What each machine sent, put in flight.
    fn collect(&mut self) {
        self.to_expert
            .extend(std::iter::from_fn(|| self.novice.poll_send()));
        self.to_novice
            .extend(std::iter::from_fn(|| self.expert.poll_send()));
    }

    /// Everything in flight delivered, until nothing is; the events of
    /// both sides since the last call, the novice's first.
    fn settle(&mut self) -> (Vec<Event>, Vec<Event>) {
        self.collect();
        while !self.to_novice.is_empty() || !self.to_expert.is_empty() {
            while let Some(message) = self.to_novice.pop_front() {
                self.novice.handle_peer(message);
            }
            while let Some(message) = self.to_expert.pop_front() {
                self.expert.handle_peer(message);
            }
            self.collect();
        }
        (events(&mut self.novice), events(&mut self.expert))
    }

    /// Both Hellos delivered and the expert approved, events drained.
    fn sharing(policy: Policy) -> Self {
        let mut pair = Self::new(policy);
        pair.settle();
        pair.novice.act(Action::Approve).expect("approve");
        pair.settle();
        pair
    }

    /// Sharing, control requested and granted, events drained.
    fn in_control() -> Self {
        let mut pair = Self::sharing(ALLOW);
        pair.expert.act(Action::RequestControl).expect("request");
        pair.settle();
        pair.novice.act(Action::GrantControl).expect("grant");
        pair.settle();
        pair
    }
}

fn events(session: &mut AssistSession) -> Vec<Event> {
    std::iter::from_fn(|| session.poll_event()).collect()
}

fn sent(session: &mut AssistSession) -> Vec<Message> {
    std::iter::from_fn(|| session.poll_send()).collect()
}

fn update(full: bool, bytes: &[u8]) -> ScreenUpdate {
    ScreenUpdate {
        rows: 24,
        cols: 80,
        full,
        bytes: bytes.to_vec(),
    }
}

const SHARING: State = State::ScreenSharing { paused: false };

#[test]
fn each_side_says_hello_first_and_the_novice_is_asked() {
    let mut novice = AssistSession::new(Role::Novice, ALLOW, "Nina".to_owned());
    assert_eq!(
        sent(&mut novice),
        [Message::Hello {
            name: "Nina".to_owned(),
            version: ASSIST_VERSION,
            role: Role::Novice,
        }]
    );
    assert_eq!(novice.state(), State::WaitingForPeer);

    let mut pair = Pair::new(ALLOW);
    let (novice, expert) = pair.settle();
    assert_eq!(
        novice,
        [
            Event::PeerHello {
                name: "Eve".to_owned()
            },
            Event::StateChanged(State::AwaitingApproval),
            Event::ApprovalAsked {
                name: "Eve".to_owned()
            },
        ]
    );
    assert_eq!(
        expert,
        [
            Event::PeerHello {
                name: "Nina".to_owned()
            },
            Event::StateChanged(State::AwaitingApproval),
        ]
    );
}

#[test]
fn a_long_name_is_cut_on_a_character_boundary() {
    let mut session = AssistSession::new(Role::Helper, ALLOW, "é".repeat(40));
    let Some(Message::Hello { name, .. }) = session.poll_send() else {
        panic!("a Hello first");
    };
    assert_eq!(name, "é".repeat(MAX_NAME / 2));
}

#[test]
fn another_version_ends_the_session_on_both_sides() {
    let mut pair = Pair::new(ALLOW);
    pair.to_novice[0] = Message::Hello {
        name: "Eve".to_owned(),
        version: 2,
        role: Role::Helper,
    };
    let (novice, expert) = pair.settle();
    let Some(Event::Ended { reason, by_peer }) = novice.last() else {
        panic!("the novice ends: {novice:?}");
    };
    assert!(!by_peer);
    assert!(
        reason.contains("version 2") && reason.contains("version 1"),
        "{reason}"
    );
    assert_eq!(
        expert.last(),
        Some(&Event::Ended {
            reason: reason.clone(),
            by_peer: true
        })
    );
    assert_eq!(pair.expert.state(), State::Ended);
}

#[test]
fn approval_starts_screen_sharing_and_asks_for_a_full_screen() {
    let mut pair = Pair::new(ALLOW);
    pair.settle();
    assert!(!pair.novice.may_show_screen());
    pair.novice.act(Action::Approve).expect("approve");
    let (novice, expert) = pair.settle();
    assert_eq!(
        novice,
        [Event::StateChanged(SHARING), Event::NeedFullScreen]
    );
    assert_eq!(expert, [Event::StateChanged(SHARING)]);
    assert!(pair.novice.may_show_screen() && pair.expert.may_show_screen());
    assert!(!pair.novice.keys_reach_shell());
}

#[test]
fn refusal_ends_the_session_without_a_bye() {
    let mut pair = Pair::new(ALLOW);
    pair.settle();
    pair.novice.act(Action::Refuse).expect("refuse");
    let refusal = sent(&mut pair.novice);
    assert_eq!(
        refusal,
        [Message::Approval { allowed: false }],
        "no Bye after it"
    );
    pair.to_expert.extend(refusal);
    let (novice, expert) = pair.settle();
    let ended = |by_peer| Event::Ended {
        reason: REFUSED.to_owned(),
        by_peer,
    };
    assert_eq!(novice.last(), Some(&ended(false)));
    assert_eq!(expert.last(), Some(&ended(true)));
    assert_eq!(pair.novice.state(), State::Ended);
    assert_eq!(pair.expert.state(), State::Ended);
}

#[test]
fn no_screen_leaves_before_the_approval() {
    let mut pair = Pair::new(ALLOW);
    pair.novice.share_screen(update(true, b"secret"));
    pair.settle();
    pair.novice.share_screen(update(true, b"secret"));
    assert_eq!(sent(&mut pair.novice), []);
}

#[test]
fn diffs_wait_for_a_full_screen_then_flow() {
    let mut pair = Pair::sharing(ALLOW);
    pair.novice.share_screen(update(false, b"diff before"));
    assert_eq!(sent(&mut pair.novice), []);
    for u in [update(true, b"full"), update(false, b"diff")] {
        pair.novice.share_screen(u.clone());
        let (_, expert) = pair.settle();
        assert_eq!(expert, [Event::ShowScreen(u)]);
    }
}

#[test]
fn the_expert_ignores_a_diff_without_a_full_screen_before_it() {
    let mut pair = Pair::sharing(ALLOW);
    pair.to_expert
        .push_back(Message::Screen(update(false, b"diff")));
    let (_, expert) = pair.settle();
    assert_eq!(
        expert,
        [Event::Ignored {
            message: "Screen",
            state: SHARING
        }]
    );
}

#[test]
fn pause_hides_the_screen_and_continue_asks_for_a_full_one() {
    let mut pair = Pair::sharing(ALLOW);
    pair.novice.share_screen(update(true, b"full"));
    pair.settle();
    pair.novice.act(Action::Pause).expect("pause");
    let paused = State::ScreenSharing { paused: true };
    let (novice, expert) = pair.settle();
    assert_eq!(novice, [Event::StateChanged(paused)]);
    assert_eq!(expert, [Event::StateChanged(paused), Event::ClearScreen]);
    assert!(!pair.novice.may_show_screen() && !pair.expert.may_show_screen());
    pair.novice.share_screen(update(true, b"hidden"));
    pair.novice.share_screen(update(false, b"hidden"));
    assert_eq!(sent(&mut pair.novice), []);
    assert_eq!(
        pair.novice.act(Action::Pause),
        Err(ActionError::OutOfTurn {
            action: "pause",
            state: paused
        })
    );

    pair.novice.act(Action::Continue).expect("continue");
    let (novice, expert) = pair.settle();
    assert_eq!(
        novice,
        [Event::StateChanged(SHARING), Event::NeedFullScreen]
    );
    assert_eq!(expert, [Event::StateChanged(SHARING)]);
    pair.novice.share_screen(update(false, b"stale diff"));
    assert_eq!(sent(&mut pair.novice), []);
    pair.novice.share_screen(update(true, b"again"));
    let (_, expert) = pair.settle();
    assert_eq!(expert, [Event::ShowScreen(update(true, b"again"))]);
}

#[test]
fn no_chat_either_way_before_the_approval() {
    let mut pair = Pair::new(ALLOW);
    pair.settle();
    for session in [&mut pair.novice, &mut pair.expert] {
        assert_eq!(
            session.act(Action::Chat("hi".to_owned())),
            Err(ActionError::OutOfTurn {
                action: "chat",
                state: State::AwaitingApproval
            })
        );
    }
    pair.to_novice.push_back(Message::Chat {
        text: "let me in".to_owned(),
    });
    let (novice, _) = pair.settle();
    assert_eq!(
        novice,
        [Event::Ignored {
            message: "Chat",
            state: State::AwaitingApproval
        }]
    );
}

#[test]
fn chat_goes_both_ways_and_a_long_text_in_pieces() {
    let mut pair = Pair::sharing(ALLOW);
    pair.expert
        .act(Action::Chat("which printer?".to_owned()))
        .expect("chat");
    pair.novice
        .act(Action::Chat("the one upstairs".to_owned()))
        .expect("chat");
    let (novice, expert) = pair.settle();
    assert_eq!(novice, [Event::ChatReceived("which printer?".to_owned())]);
    assert_eq!(expert, [Event::ChatReceived("the one upstairs".to_owned())]);

    let long = "ü".repeat(MAX_CHAT);
    pair.novice.act(Action::Chat(long.clone())).expect("chat");
    let pieces = sent(&mut pair.novice);
    assert_eq!(pieces.len(), 2);
    let mut joined = String::new();
    for piece in pieces {
        let Message::Chat { text } = piece else {
            panic!("chat pieces only");
        };
        assert!(text.len() <= MAX_CHAT);
        joined += &text;
    }
    assert_eq!(joined, long);
}

#[test]
fn control_is_requested_granted_used_and_taken_back() {
    let mut pair = Pair::sharing(ALLOW);
    pair.expert.act(Action::RequestControl).expect("request");
    let requested = State::ControlRequested { paused: false };
    let (novice, expert) = pair.settle();
    assert_eq!(
        novice,
        [Event::StateChanged(requested), Event::ControlRequested]
    );
    assert_eq!(expert, [Event::StateChanged(requested)]);
    pair.expert.type_keys(b"too early");
    assert_eq!(sent(&mut pair.expert), []);

    pair.novice.act(Action::GrantControl).expect("grant");
    let control = State::ControlSharing { paused: false };
    assert_eq!(
        pair.settle(),
        (
            vec![Event::StateChanged(control)],
            vec![Event::StateChanged(control)]
        )
    );
    assert!(pair.novice.keys_reach_shell() && pair.expert.keys_reach_shell());
    pair.expert.type_keys(b"lpstat\r");
    let (novice, _) = pair.settle();
    assert_eq!(novice, [Event::KeysForShell(b"lpstat\r".to_vec())]);

    pair.novice.act(Action::TakeControlBack).expect("Esc");
    assert_eq!(
        pair.settle(),
        (
            vec![Event::StateChanged(SHARING)],
            vec![Event::StateChanged(SHARING)]
        )
    );
    pair.expert.type_keys(b"rm -rf ~\r");
    assert_eq!(sent(&mut pair.expert), []);
}

#[test]
fn keys_go_in_pieces_of_the_limit() {
    let mut pair = Pair::in_control();
    let keys = vec![b'a'; 2 * MAX_KEYS + 1];
    pair.expert.type_keys(&keys);
    let lens: Vec<usize> = sent(&mut pair.expert)
        .iter()
        .map(|m| match m {
            Message::Keys { bytes } => bytes.len(),
            other => panic!("keys only: {other:?}"),
        })
        .collect();
    assert_eq!(lens, [MAX_KEYS, MAX_KEYS, 1]);
}

#[test]
fn a_denied_request_returns_to_screen_sharing() {
    let mut pair = Pair::sharing(ALLOW);
    pair.expert.act(Action::RequestControl).expect("request");
    pair.settle();
    pair.novice.act(Action::DenyControl).expect("deny");
    assert_eq!(
        pair.settle(),
        (
            vec![Event::StateChanged(SHARING)],
            vec![Event::StateChanged(SHARING)]
        )
    );
}

#[test]
fn the_policy_denies_control_without_asking() {
    let mut pair = Pair::sharing(Policy {
        allow_control: false,
    });
    pair.expert.act(Action::RequestControl).expect("request");
    let (novice, expert) = pair.settle();
    assert_eq!(novice, [Event::ControlDeniedByPolicy]);
    assert_eq!(
        expert,
        [
            Event::StateChanged(State::ControlRequested { paused: false }),
            Event::StateChanged(SHARING),
            Event::ControlDeniedByPolicy
        ]
    );
    assert_eq!(pair.novice.state(), SHARING);
    assert_eq!(pair.expert.state(), SHARING);
}

#[test]
fn the_expert_releases_control() {
    let mut pair = Pair::in_control();
    pair.expert.act(Action::ReleaseControl).expect("release");
    assert_eq!(
        pair.settle(),
        (
            vec![Event::StateChanged(SHARING)],
            vec![Event::StateChanged(SHARING)]
        )
    );
}

#[test]
fn a_revoke_crossing_a_release_is_ignored_and_both_agree() {
    let mut pair = Pair::in_control();
    pair.novice.act(Action::TakeControlBack).expect("Esc");
    pair.expert.act(Action::ReleaseControl).expect("release");
    let (novice, expert) = pair.settle();
    let ignored = |message| Event::Ignored {
        message,
        state: SHARING,
    };
    assert_eq!(
        novice,
        [Event::StateChanged(SHARING), ignored("ControlRelease")]
    );
    assert_eq!(
        expert,
        [Event::StateChanged(SHARING), ignored("ControlRevoke")]
    );
}

#[test]
fn a_revoke_crossing_a_release_and_a_new_request_leaves_the_request_open() {
    let mut pair = Pair::in_control();
    pair.novice.act(Action::TakeControlBack).expect("Esc");
    pair.expert.act(Action::ReleaseControl).expect("release");
    pair.expert
        .act(Action::RequestControl)
        .expect("request again");
    let requested = State::ControlRequested { paused: false };
    let (novice, expert) = pair.settle();
    assert_eq!(
        novice,
        [
            Event::StateChanged(SHARING),
            Event::Ignored {
                message: "ControlRelease",
                state: SHARING
            },
            Event::StateChanged(requested),
            Event::ControlRequested,
        ]
    );
    assert_eq!(
        expert,
        [
            Event::StateChanged(SHARING),
            Event::StateChanged(requested),
            Event::Ignored {
                message: "ControlRevoke",
                state: requested
            },
        ]
    );
    assert_eq!(pair.novice.state(), pair.expert.state());
}

#[test]
fn pausing_in_control_suspends_the_keys_and_continue_restores_them() {
    let mut pair = Pair::in_control();
    pair.novice.act(Action::Pause).expect("pause");
    let paused = State::ControlSharing { paused: true };
    pair.settle();
    assert_eq!(pair.expert.state(), paused);
    assert!(!pair.novice.keys_reach_shell() && !pair.expert.keys_reach_shell());
    pair.expert.type_keys(b"ls\r");
    assert_eq!(sent(&mut pair.expert), []);
    pair.to_novice.push_back(Message::Keys {
        bytes: b"ls\r".to_vec(),
    });
    let (novice, _) = pair.settle();
    assert_eq!(
        novice,
        [Event::Ignored {
            message: "Keys",
            state: paused
        }]
    );

    pair.novice.act(Action::Continue).expect("continue");
    pair.settle();
    let control = State::ControlSharing { paused: false };
    assert_eq!(
        (pair.novice.state(), pair.expert.state()),
        (control, control)
    );
    pair.expert.type_keys(b"ls\r");
    let (novice, _) = pair.settle();
    assert_eq!(novice, [Event::KeysForShell(b"ls\r".to_vec())]);
}

#[test]
fn messages_out_of_sequence_are_ignored_and_change_nothing() {
    let mut pair = Pair::sharing(ALLOW);
    let to_novice = [
        Message::Keys {
            bytes: b"x".to_vec(),
        },
        Message::Screen(update(true, b"fake")),
        Message::ControlGrant,
        Message::Approval { allowed: true },
        Message::Pause,
        Message::ControlRelease,
        Message::Hello {
            name: "Mallory".to_owned(),
            version: ASSIST_VERSION,
            role: Role::Helper,
        },
    ];
    let to_expert = [
        Message::ControlGrant,
        Message::ControlDeny { by_policy: false },
        Message::ControlRevoke,
        Message::Approval { allowed: false },
        Message::Continue,
        Message::ControlRequest,
        Message::Keys {
            bytes: b"x".to_vec(),
        },
    ];
    let names = |messages: &[Message]| -> Vec<Event> {
        messages
            .iter()
            .map(|m| Event::Ignored {
                message: m.name(),
                state: SHARING,
            })
            .collect()
    };
    let (expect_novice, expect_expert) = (names(&to_novice), names(&to_expert));
    pair.to_novice.extend(to_novice);
    pair.to_expert.extend(to_expert);
    assert_eq!(pair.settle(), (expect_novice, expect_expert));
    assert_eq!(
        (pair.novice.state(), pair.expert.state()),
        (SHARING, SHARING)
    );
}

#[test]
fn the_peers_bye_ends_the_session_and_then_everything_is_ignored() {
    let mut pair = Pair::sharing(ALLOW);
    pair.expert
        .act(Action::Disconnect("fixed, bye".to_owned()))
        .expect("disconnect");
    let (novice, expert) = pair.settle();
    let ended = |by_peer| Event::Ended {
        reason: "fixed, bye".to_owned(),
        by_peer,
    };
    assert_eq!(novice, [Event::StateChanged(State::Ended), ended(true)]);
    assert_eq!(expert, [Event::StateChanged(State::Ended), ended(false)]);

    pair.novice.handle_peer(Message::ControlRequest);
    pair.novice.handle_peer(Message::Bye {
        reason: "again".to_owned(),
    });
    pair.novice.handle_peer_closed();
    pair.novice.handle_malformed(FrameError::Empty);
    pair.novice.share_screen(update(true, b"x"));
    assert_eq!(
        pair.novice.act(Action::Disconnect("late".to_owned())),
        Err(ActionError::OutOfTurn {
            action: "disconnect",
            state: State::Ended
        })
    );
    assert_eq!(events(&mut pair.novice), []);
    assert_eq!(sent(&mut pair.novice), []);
}

#[test]
fn a_malformed_stream_ends_the_session_with_a_bye_that_says_why() {
    let mut pair = Pair::sharing(ALLOW);
    pair.novice.handle_malformed(FrameError::UnknownKind(99));
    let reason = "the peer sent a malformed message: a frame of unknown kind 99".to_owned();
    assert_eq!(
        sent(&mut pair.novice),
        [Message::Bye {
            reason: reason.clone()
        }]
    );
    assert_eq!(
        events(&mut pair.novice),
        [
            Event::StateChanged(State::Ended),
            Event::Ended {
                reason,
                by_peer: false
            }
        ]
    );
}

#[test]
fn a_closed_connection_ends_the_session_silently() {
    let mut pair = Pair::sharing(ALLOW);
    pair.expert.handle_peer_closed();
    assert_eq!(sent(&mut pair.expert), []);
    assert_eq!(
        events(&mut pair.expert).last(),
        Some(&Event::Ended {
            reason: "the connection to the peer closed".to_owned(),
            by_peer: true
        })
    );
}

#[test]
fn a_long_reason_is_cut_on_the_wire_only() {
    let mut pair = Pair::sharing(ALLOW);
    let reason = "ß".repeat(MAX_REASON);
    pair.novice
        .act(Action::Disconnect(reason.clone()))
        .expect("disconnect");
    let Some(Message::Bye { reason: wire }) = pair.novice.poll_send() else {
        panic!("a Bye");
    };
    assert_eq!(wire, "ß".repeat(MAX_REASON / 2));
    assert_eq!(
        events(&mut pair.novice).last(),
        Some(&Event::Ended {
            reason,
            by_peer: false
        })
    );
}

#[test]
fn an_oversize_screen_is_dropped_and_a_diff_asks_for_a_full_one() {
    let mut pair = Pair::sharing(ALLOW);
    let big = vec![b'x'; MAX_SCREEN + 1];
    pair.novice.share_screen(update(true, &big));
    assert_eq!(sent(&mut pair.novice), []);
    assert_eq!(events(&mut pair.novice), [], "no loop of full snapshots");
    pair.novice.share_screen(update(true, b"fits"));
    pair.novice.share_screen(update(false, &big));
    pair.novice
        .share_screen(update(false, b"after the lost diff"));
    assert_eq!(
        sent(&mut pair.novice),
        [Message::Screen(update(true, b"fits"))]
    );
    assert_eq!(events(&mut pair.novice), [Event::NeedFullScreen]);
}

#[test]
fn an_action_of_the_other_side_or_out_of_turn_is_refused() {
    let mut pair = Pair::sharing(ALLOW);
    let not_mine = |action, by| ActionError::NotThisSide { action, by };
    assert_eq!(
        pair.novice.act(Action::RequestControl),
        Err(not_mine("request control", Role::Helper))
    );
    assert_eq!(
        pair.expert.act(Action::Approve),
        Err(not_mine("approve", Role::Novice))
    );
    assert_eq!(
        pair.novice.act(Action::GrantControl),
        Err(ActionError::OutOfTurn {
            action: "grant control",
            state: SHARING
        })
    );
    assert_eq!(
        pair.expert.act(Action::Pause).map_err(|e| e.to_string()),
        Err("only the novice can pause".to_owned())
    );
    assert_eq!(
        pair.expert
            .act(Action::ReleaseControl)
            .map_err(|e| e.to_string()),
        Err("cannot release control now: the session is screen sharing".to_owned())
    );
    assert_eq!(pair.settle(), (vec![], vec![]));
}

#[test]
fn two_novices_or_two_experts_make_no_session() {
    for role in [Role::Novice, Role::Helper] {
        let mut one = AssistSession::new(role, ALLOW, "One".to_owned());
        let mut other = AssistSession::new(role, ALLOW, "Other".to_owned());
        let Some(hello) = one.poll_send() else {
            panic!("a Hello first");
        };
        other.handle_peer(hello);
        assert_eq!(other.state(), State::Ended);
        let ended = std::iter::from_fn(|| other.poll_event())
            .find_map(|e| match e {
                Event::Ended { reason, .. } => Some(reason),
                _ => None,
            })
            .expect("an end");
        assert!(ended.contains("both sides"), "{ended}");
        assert!(
            std::iter::from_fn(|| other.poll_send()).any(|m| matches!(m, Message::Bye { .. })),
            "the other side is told"
        );
    }
}
