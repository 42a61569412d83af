//! The complaint's life, as pure rules: states (LAPOR!-compatible, Open311-mappable; research
//! §3.5), the actions allowed in each, what each action must carry, and which deadline runs.
//! No I/O here; the store applies a `Step` inside one transaction.

use serde::{Deserialize, Serialize};

/// Where a complaint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Received, waiting for the verifier (3 working days).
    Diterima,
    /// On hold: the verifier asked the reporter for more (clock paused).
    VerifikasiTunda,
    /// Sent to an agency (5 working days to follow up).
    Didisposisi,
    /// Passed between agencies.
    Koordinasi,
    /// Being handled.
    Diproses,
    /// Work is scheduled.
    Dijadwalkan,
    /// Reopened by the reporter's dispute (a new follow-up deadline).
    DibukaKembali,
    /// Closed: fixed directly.
    SelesaiLangsung,
    /// Closed: needs budget (goes to the planning backlog).
    ButuhAnggaran,
    /// Closed: not the city's authority (with where it was sent).
    BukanWewenang,
    /// Closed: rejected or archived (with the reason).
    Ditolak,
    /// Closed: a duplicate of another report.
    Duplikat,
}

impl State {
    pub const ALL: [State; 12] = [
        State::Diterima,
        State::VerifikasiTunda,
        State::Didisposisi,
        State::Koordinasi,
        State::Diproses,
        State::Dijadwalkan,
        State::DibukaKembali,
        State::SelesaiLangsung,
        State::ButuhAnggaran,
        State::BukanWewenang,
        State::Ditolak,
        State::Duplikat,
    ];

    pub fn code(self) -> &'static str {
        match self {
            State::Diterima => "diterima",
            State::VerifikasiTunda => "verifikasi_tunda",
            State::Didisposisi => "didisposisi",
            State::Koordinasi => "koordinasi",
            State::Diproses => "diproses",
            State::Dijadwalkan => "dijadwalkan",
            State::DibukaKembali => "dibuka_kembali",
            State::SelesaiLangsung => "selesai_langsung",
            State::ButuhAnggaran => "butuh_anggaran",
            State::BukanWewenang => "bukan_wewenang",
            State::Ditolak => "ditolak",
            State::Duplikat => "duplikat",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|x| x.code() == s)
    }

    /// Waiting for the verifier (who may dispose it, also in bulk).
    pub fn is_received(self) -> bool {
        matches!(self, State::Diterima | State::VerifikasiTunda)
    }

    pub fn is_closed(self) -> bool {
        self.closure().is_some()
    }

    /// The closure a closed state stands for.
    pub fn closure(self) -> Option<ClosureKind> {
        match self {
            State::SelesaiLangsung => Some(ClosureKind::FixedDirectly),
            State::ButuhAnggaran => Some(ClosureKind::NeedsBudget),
            State::BukanWewenang => Some(ClosureKind::NotOurAuthority),
            State::Ditolak => Some(ClosureKind::Rejected),
            State::Duplikat => Some(ClosureKind::Duplicate),
            _ => None,
        }
    }

    /// Open311 `status`: open or closed.
    pub fn open311(self) -> &'static str {
        if self.is_closed() { "closed" } else { "open" }
    }

    /// The stage whose deadline runs in this state.
    pub fn stage(self) -> Option<Stage> {
        match self {
            State::Diterima | State::VerifikasiTunda => Some(Stage::Verification),
            State::Didisposisi
            | State::Koordinasi
            | State::Diproses
            | State::Dijadwalkan
            | State::DibukaKembali => Some(Stage::FollowUp),
            _ => None,
        }
    }
}

/// The two deadlines of a complaint (LAPOR!: 3 working days to verify, 5 to follow up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Verification,
    FollowUp,
}

impl Stage {
    /// The deadline kind (`platform::deadlines` policy).
    pub fn kind(self) -> &'static str {
        match self {
            Stage::Verification => "masyarakat.verifikasi",
            Stage::FollowUp => "masyarakat.tindak_lanjut",
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Stage::Verification => "verifikasi",
            Stage::FollowUp => "tindak_lanjut",
        }
    }
}

/// How a complaint ended. Mandatory when closing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosureKind {
    FixedDirectly,
    NeedsBudget,
    NotOurAuthority,
    Rejected,
    Duplicate,
}

impl ClosureKind {
    pub const ALL: [ClosureKind; 5] = [
        ClosureKind::FixedDirectly,
        ClosureKind::NeedsBudget,
        ClosureKind::NotOurAuthority,
        ClosureKind::Rejected,
        ClosureKind::Duplicate,
    ];
    pub fn code(self) -> &'static str {
        match self {
            ClosureKind::FixedDirectly => "fixed_directly",
            ClosureKind::NeedsBudget => "needs_budget",
            ClosureKind::NotOurAuthority => "not_our_authority",
            ClosureKind::Rejected => "rejected",
            ClosureKind::Duplicate => "duplicate",
        }
    }
    pub fn parse(s: &str) -> Option<ClosureKind> {
        ClosureKind::ALL.into_iter().find(|k| k.code() == s)
    }
    pub fn state(self) -> State {
        match self {
            ClosureKind::FixedDirectly => State::SelesaiLangsung,
            ClosureKind::NeedsBudget => State::ButuhAnggaran,
            ClosureKind::NotOurAuthority => State::BukanWewenang,
            ClosureKind::Rejected => State::Ditolak,
            ClosureKind::Duplicate => State::Duplikat,
        }
    }
    /// Whether the reporter is asked to confirm (a fix or a budget plan is something to judge).
    pub fn asks_confirmation(self) -> bool {
        matches!(self, ClosureKind::FixedDirectly | ClosureKind::NeedsBudget)
    }
}

/// What a closure carries, checked by `check_closure`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Closure {
    pub kind: Option<ClosureKind>,
    /// The public answer shown to the reporter.
    pub note: String,
    /// Fixed directly: the "after" photo.
    pub after_photo: Option<uuid::Uuid>,
    /// Needs budget: estimated cost in rupiah, programme/activity, responsible agency.
    pub estimate_rupiah: Option<i64>,
    pub programme: String,
    pub budget_agency: Option<uuid::Uuid>,
    /// Not our authority: where it was sent.
    pub referred_to: String,
    /// Duplicate: the code of the report it duplicates.
    pub duplicate_of: String,
}

/// A field-level problem with an action's input (field, error key).
pub type Problem = (&'static str, &'static str);

/// Checks what a closure of its kind must carry. Empty when acceptable.
pub fn check_closure(c: &Closure) -> Vec<Problem> {
    let mut p = Vec::new();
    let Some(kind) = c.kind else {
        p.push(("closure", "closure_required"));
        return p;
    };
    match kind {
        ClosureKind::FixedDirectly => {
            if c.after_photo.is_none() {
                p.push(("after_photo", "after_photo_required"));
            }
        }
        ClosureKind::NeedsBudget => {
            match c.estimate_rupiah {
                Some(n) if n > 0 => {}
                _ => p.push(("estimate", "estimate_required")),
            }
            if c.programme.trim().is_empty() {
                p.push(("programme", "programme_required"));
            }
            if c.budget_agency.is_none() {
                p.push(("budget_agency", "agency_required"));
            }
        }
        ClosureKind::NotOurAuthority => {
            if c.referred_to.trim().is_empty() {
                p.push(("referred_to", "referred_to_required"));
            }
        }
        ClosureKind::Rejected => {
            if c.note.trim().is_empty() {
                p.push(("note", "reason_required"));
            }
        }
        ClosureKind::Duplicate => {
            if c.duplicate_of.trim().is_empty() {
                p.push(("duplicate_of", "duplicate_of_required"));
            }
        }
    }
    if kind != ClosureKind::Rejected && c.note.trim().is_empty() {
        p.push(("note", "answer_required"));
    }
    p
}

/// What someone may do to a complaint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Verifier: send to an agency, with an optional note for it and the reporter.
    Dispose { agency: uuid::Uuid, note: String },
    /// Verifier: ask the reporter for more (pauses the clock).
    Hold { question: String },
    /// Reporter (or verifier): the information came; back to the verifier.
    Answer { text: String },
    /// Agency: start work.
    Start,
    /// Agency: work is scheduled.
    Schedule { note: String },
    /// Agency: pass to another agency.
    Coordinate { agency: uuid::Uuid, note: String },
    /// Verifier or agency: close, with the mandatory closure.
    Close(Closure),
    /// Reporter: the fix (or plan) is accepted.
    Confirm,
    /// Reporter: it is not fixed; reopens.
    Dispute { reason: String },
}

impl Action {
    pub fn code(&self) -> &'static str {
        match self {
            Action::Dispose { .. } => "dispose",
            Action::Hold { .. } => "hold",
            Action::Answer { .. } => "answer",
            Action::Start => "start",
            Action::Schedule { .. } => "schedule",
            Action::Coordinate { .. } => "coordinate",
            Action::Close(_) => "close",
            Action::Confirm => "confirm",
            Action::Dispute { .. } => "dispute",
        }
    }
}

/// Who acts, as far as the rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// The city's verifier (admin / operator desk).
    Verifier,
    /// An officer or head of the agency the complaint is with.
    Agency,
    /// The reporter.
    Reporter,
}

/// What the deadline engine must do along with a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockOp {
    /// Stop the running deadline and start one for this stage.
    StartStage(Stage),
    Pause,
    Resume,
    /// Stop the running deadline (the outcome is kept).
    Stop,
    None,
}

/// The effect of an allowed action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub to: State,
    pub clock: ClockOp,
    /// The reporter and supporters hear of it.
    pub tell_reporter: bool,
    /// The agency now holding it (dispositions and coordination).
    pub new_agency: Option<uuid::Uuid>,
}

/// Why an action is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not allowed in this state, or not by this actor (error key `transition_not_allowed`).
    NotAllowed,
    /// Allowed, but the input is incomplete.
    Invalid(Vec<Problem>),
}

/// The rules: may `who` do `action` to a complaint in `state` (awaiting confirmation or not)?
pub fn apply(
    state: State,
    awaiting_confirmation: bool,
    who: Actor,
    action: &Action,
) -> Result<Step, Refusal> {
    use State::*;
    let step = |to, clock, tell, agency| Step {
        to,
        clock,
        tell_reporter: tell,
        new_agency: agency,
    };
    let open_at_agency = matches!(
        state,
        Didisposisi | Koordinasi | Diproses | Dijadwalkan | DibukaKembali
    );
    match (action, who) {
        (Action::Dispose { agency, .. }, Actor::Verifier)
            if matches!(state, Diterima | VerifikasiTunda) =>
        {
            Ok(step(
                Didisposisi,
                ClockOp::StartStage(Stage::FollowUp),
                true,
                Some(*agency),
            ))
        }
        (Action::Hold { question }, Actor::Verifier) if state == Diterima => {
            if question.trim().is_empty() {
                return Err(Refusal::Invalid(vec![("question", "question_required")]));
            }
            Ok(step(VerifikasiTunda, ClockOp::Pause, true, None))
        }
        (Action::Answer { text }, Actor::Reporter | Actor::Verifier)
            if state == VerifikasiTunda =>
        {
            if text.trim().is_empty() {
                return Err(Refusal::Invalid(vec![("text", "answer_text_required")]));
            }
            Ok(step(Diterima, ClockOp::Resume, false, None))
        }
        (Action::Start, Actor::Agency)
            if matches!(
                state,
                Didisposisi | Koordinasi | Dijadwalkan | DibukaKembali
            ) =>
        {
            Ok(step(Diproses, ClockOp::None, true, None))
        }
        (Action::Schedule { note }, Actor::Agency)
            if matches!(state, Didisposisi | Diproses | DibukaKembali) =>
        {
            if note.trim().is_empty() {
                return Err(Refusal::Invalid(vec![("note", "schedule_note_required")]));
            }
            Ok(step(Dijadwalkan, ClockOp::None, true, None))
        }
        (Action::Coordinate { agency, .. }, Actor::Agency | Actor::Verifier) if open_at_agency => {
            Ok(step(Koordinasi, ClockOp::None, true, Some(*agency)))
        }
        (Action::Close(c), Actor::Verifier)
            if matches!(state, Diterima | VerifikasiTunda) || open_at_agency =>
        {
            close(c)
        }
        (Action::Close(c), Actor::Agency) if open_at_agency => {
            if matches!(c.kind, Some(ClosureKind::Duplicate)) {
                // Merging is the verifier's (it moves supporters across reports).
                return Err(Refusal::NotAllowed);
            }
            close(c)
        }
        (Action::Confirm, Actor::Reporter) if state.is_closed() && awaiting_confirmation => {
            Ok(step(state, ClockOp::None, false, None))
        }
        (Action::Dispute { reason }, Actor::Reporter)
            if state.is_closed() && awaiting_confirmation =>
        {
            if reason.trim().is_empty() {
                return Err(Refusal::Invalid(vec![(
                    "reason",
                    "dispute_reason_required",
                )]));
            }
            Ok(step(
                DibukaKembali,
                ClockOp::StartStage(Stage::FollowUp),
                true,
                None,
            ))
        }
        _ => Err(Refusal::NotAllowed),
    }
}

fn close(c: &Closure) -> Result<Step, Refusal> {
    let problems = check_closure(c);
    if !problems.is_empty() {
        return Err(Refusal::Invalid(problems));
    }
    let kind = c
        .kind
        .ok_or(Refusal::Invalid(vec![("closure", "closure_required")]))?;
    Ok(Step {
        to: kind.state(),
        clock: ClockOp::Stop,
        tell_reporter: true,
        new_agency: None,
    })
}

/// Who may see a report's reporter, and whether the public sees the report at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Privacy {
    /// Everyone sees the report; the reporter's name is shown to staff.
    Public,
    /// The public and the agency see the report but never who sent it; admins do.
    Anonymous,
    /// Not public at all; staff handle it.
    Confidential,
}

impl Privacy {
    pub fn code(self) -> &'static str {
        match self {
            Privacy::Public => "public",
            Privacy::Anonymous => "anonymous",
            Privacy::Confidential => "confidential",
        }
    }
    pub fn parse(s: &str) -> Option<Privacy> {
        [Privacy::Public, Privacy::Anonymous, Privacy::Confidential]
            .into_iter()
            .find(|p| p.code() == s)
    }
    pub fn is_listed_publicly(self) -> bool {
        self != Privacy::Confidential
    }
}

/// Who is looking at a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    Public,
    Reporter,
    /// The agency's officers and heads.
    Agency,
    /// Admins, the verifier desk, leaders, the Inspektorat.
    CityWide,
}

/// May this viewer learn which officer handles it? The reporter and staff may; the public
/// sees the agency only.
pub fn may_see_officer(viewer: Viewer) -> bool {
    viewer != Viewer::Public
}

/// May this viewer learn who reported it?
pub fn may_see_reporter(privacy: Privacy, viewer: Viewer) -> bool {
    match viewer {
        Viewer::Reporter | Viewer::CityWide => true,
        Viewer::Agency => privacy != Privacy::Anonymous,
        Viewer::Public => false,
    }
}

/// May this viewer see the report at all?
pub fn may_see_report(privacy: Privacy, viewer: Viewer) -> bool {
    match viewer {
        Viewer::Public => privacy.is_listed_publicly(),
        _ => true,
    }
}

/// The ticket code: `ADU-2026-000123`.
pub fn ticket_code(year: i32, seq: i64) -> String {
    kernel::ids::short_code("ADU", year, seq)
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn fixed(photo: bool) -> Closure {
        Closure {
            kind: Some(ClosureKind::FixedDirectly),
            note: "Lampu sudah diganti.".into(),
            after_photo: photo.then(Uuid::nil),
            ..Default::default()
        }
    }

    #[test]
    fn the_happy_path_runs_the_right_clocks() {
        let a = Uuid::nil();
        let s = apply(
            State::Diterima,
            false,
            Actor::Verifier,
            &Action::Dispose {
                agency: a,
                note: String::new(),
            },
        )
        .unwrap();
        assert_eq!(
            (s.to, s.clock, s.new_agency),
            (
                State::Didisposisi,
                ClockOp::StartStage(Stage::FollowUp),
                Some(a)
            )
        );
        let s = apply(State::Didisposisi, false, Actor::Agency, &Action::Start).unwrap();
        assert_eq!(s.to, State::Diproses);
        let s = apply(
            State::Diproses,
            false,
            Actor::Agency,
            &Action::Close(fixed(true)),
        )
        .unwrap();
        assert_eq!((s.to, s.clock), (State::SelesaiLangsung, ClockOp::Stop));
        let s = apply(
            State::SelesaiLangsung,
            true,
            Actor::Reporter,
            &Action::Confirm,
        )
        .unwrap();
        assert_eq!(s.to, State::SelesaiLangsung);
        assert!(
            apply(
                State::SelesaiLangsung,
                false,
                Actor::Reporter,
                &Action::Confirm
            )
            .is_err(),
            "confirm once"
        );
    }

    #[test]
    fn hold_pauses_and_answer_resumes_verification() {
        let s = apply(
            State::Diterima,
            false,
            Actor::Verifier,
            &Action::Hold {
                question: "Di mana tepatnya?".into(),
            },
        )
        .unwrap();
        assert_eq!((s.to, s.clock), (State::VerifikasiTunda, ClockOp::Pause));
        assert_eq!(
            apply(
                State::Diterima,
                false,
                Actor::Verifier,
                &Action::Hold {
                    question: " ".into()
                }
            ),
            Err(Refusal::Invalid(vec![("question", "question_required")]))
        );
        let s = apply(
            State::VerifikasiTunda,
            false,
            Actor::Reporter,
            &Action::Answer {
                text: "Depan SD 3".into(),
            },
        )
        .unwrap();
        assert_eq!((s.to, s.clock), (State::Diterima, ClockOp::Resume));
    }

    #[test]
    fn closing_needs_its_closure_and_its_evidence() {
        let none = Closure::default();
        assert_eq!(
            apply(State::Diproses, false, Actor::Agency, &Action::Close(none)),
            Err(Refusal::Invalid(vec![("closure", "closure_required")]))
        );
        assert_eq!(
            apply(
                State::Diproses,
                false,
                Actor::Agency,
                &Action::Close(fixed(false))
            ),
            Err(Refusal::Invalid(vec![(
                "after_photo",
                "after_photo_required"
            )]))
        );
        let budget = Closure {
            kind: Some(ClosureKind::NeedsBudget),
            note: "Perlu pengaspalan ulang.".into(),
            estimate_rupiah: Some(0),
            ..Default::default()
        };
        assert_eq!(
            check_closure(&budget),
            vec![
                ("estimate", "estimate_required"),
                ("programme", "programme_required"),
                ("budget_agency", "agency_required")
            ]
        );
        let budget = Closure {
            estimate_rupiah: Some(150_000_000),
            programme: "Rehabilitasi jalan kota".into(),
            budget_agency: Some(Uuid::nil()),
            ..budget
        };
        assert_eq!(
            apply(
                State::Diproses,
                false,
                Actor::Agency,
                &Action::Close(budget)
            )
            .unwrap()
            .to,
            State::ButuhAnggaran
        );
        let dup = Closure {
            kind: Some(ClosureKind::Duplicate),
            note: "Sama dengan ADU-2026-000001.".into(),
            duplicate_of: "ADU-2026-000001".into(),
            ..Default::default()
        };
        assert_eq!(
            apply(
                State::Diproses,
                false,
                Actor::Agency,
                &Action::Close(dup.clone())
            ),
            Err(Refusal::NotAllowed)
        );
        assert_eq!(
            apply(State::Diterima, false, Actor::Verifier, &Action::Close(dup))
                .unwrap()
                .to,
            State::Duplikat
        );
    }

    #[test]
    fn a_dispute_reopens_with_a_new_follow_up_deadline() {
        let s = apply(
            State::SelesaiLangsung,
            true,
            Actor::Reporter,
            &Action::Dispute {
                reason: "Masih mati.".into(),
            },
        )
        .unwrap();
        assert_eq!(
            (s.to, s.clock),
            (State::DibukaKembali, ClockOp::StartStage(Stage::FollowUp))
        );
        assert!(apply(State::DibukaKembali, false, Actor::Agency, &Action::Start).is_ok());
    }

    #[test]
    fn nothing_else_is_allowed() {
        let a = Uuid::nil();
        let actions = [
            Action::Dispose {
                agency: a,
                note: String::new(),
            },
            Action::Hold {
                question: "q".into(),
            },
            Action::Answer { text: "t".into() },
            Action::Start,
            Action::Schedule { note: "n".into() },
            Action::Coordinate {
                agency: a,
                note: String::new(),
            },
            Action::Close(fixed(true)),
            Action::Confirm,
            Action::Dispute { reason: "r".into() },
        ];
        let mut allowed = 0;
        for s in State::ALL {
            for who in [Actor::Verifier, Actor::Agency, Actor::Reporter] {
                for act in &actions {
                    for awaiting in [false, true] {
                        if let Ok(step) = apply(s, awaiting, who, act) {
                            {
                                allowed += 1;
                                // Nobody acts on a closed report but the reporter.
                                if s.is_closed() {
                                    assert_eq!(who, Actor::Reporter, "{s:?} {act:?}");
                                }
                                // The reporter never moves work along.
                                if who == Actor::Reporter {
                                    assert!(matches!(
                                        act,
                                        Action::Answer { .. }
                                            | Action::Confirm
                                            | Action::Dispute { .. }
                                    ));
                                }
                                if step.to.is_closed() && !s.is_closed() {
                                    assert_eq!(step.clock, ClockOp::Stop);
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(allowed > 20);
        // The reporter cannot close or dispose.
        assert_eq!(
            apply(
                State::Diterima,
                false,
                Actor::Reporter,
                &Action::Close(fixed(true))
            ),
            Err(Refusal::NotAllowed)
        );
        assert_eq!(
            apply(
                State::Diterima,
                false,
                Actor::Agency,
                &Action::Dispose {
                    agency: a,
                    note: String::new(),
                }
            ),
            Err(Refusal::NotAllowed)
        );
    }

    #[test]
    fn privacy_hides_the_reporter_where_it_should() {
        assert!(!may_see_reporter(Privacy::Anonymous, Viewer::Agency));
        assert!(may_see_reporter(Privacy::Anonymous, Viewer::CityWide));
        assert!(may_see_reporter(Privacy::Public, Viewer::Agency));
        assert!(!may_see_reporter(Privacy::Public, Viewer::Public));
        assert!(!may_see_report(Privacy::Confidential, Viewer::Public));
        assert!(may_see_report(Privacy::Anonymous, Viewer::Public));
        assert_eq!(ticket_code(2026, 123), "ADU-2026-000123");
    }
}
