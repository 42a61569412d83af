//! `/lapor`: reporting a problem one question at a time (UX.md): what, where (with the open
//! reports nearby offered for "Saya juga"), the story, the photos, who may see it, then
//! "Periksa kembali" with an "Ubah" for each answer. The answers travel in the form itself
//! (hidden fields; photos are saved when chosen and travel by id), so nothing is kept on the
//! server between steps and every step works without scripts. A form posted whole (no step)
//! is sent at once, and a refusal opens the first step that has something to fix.

use std::collections::BTreeMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Multipart, State};
use axum::response::{IntoResponse, Redirect, Response};
use uuid::Uuid;

use super::{has_htmx, kelurahan_options, one, read_multipart};
use crate::domain::Privacy;
use crate::store::{self, Category, Nearby, ReportInput};
use kernel::FieldErrors;
use platform::error::{AppError, AppResult};
use platform::web::AppState;
use platform::web::auth::SignedIn;
use platform::web::context::Ctx;
use platform::web::form::Form;
use platform::web::map::MapView;

/// The steps, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Jenis,
    Lokasi,
    Cerita,
    Foto,
    Privasi,
    Periksa,
}

const STEPS: [Step; 6] = [
    Step::Jenis,
    Step::Lokasi,
    Step::Cerita,
    Step::Foto,
    Step::Privasi,
    Step::Periksa,
];

impl Step {
    pub fn code(self) -> &'static str {
        match self {
            Step::Jenis => "jenis",
            Step::Lokasi => "lokasi",
            Step::Cerita => "cerita",
            Step::Foto => "foto",
            Step::Privasi => "privasi",
            Step::Periksa => "periksa",
        }
    }

    fn parse(s: &str) -> Option<Step> {
        STEPS.into_iter().find(|x| x.code() == s)
    }

    fn index(self) -> usize {
        STEPS.iter().position(|x| *x == self).unwrap_or(0)
    }

    fn next(self) -> Step {
        STEPS
            .get(self.index() + 1)
            .copied()
            .unwrap_or(Step::Periksa)
    }

    fn prev(self) -> Option<Step> {
        self.index()
            .checked_sub(1)
            .and_then(|i| STEPS.get(i).copied())
    }

    /// Does this step ask for the field (so its errors send the reporter here)?
    fn asks(self, field: &str) -> bool {
        match self {
            Step::Jenis => field == "category",
            Step::Lokasi => matches!(field, "location" | "kelurahan" | "address" | "lat" | "lon"),
            Step::Cerita => field == "description" || field.starts_with("q_"),
            Step::Foto => matches!(field, "photos" | "photo_id"),
            Step::Privasi => field == "privacy",
            Step::Periksa => false,
        }
    }

    /// The first step with something to fix.
    fn first_with(errs: &FieldErrors) -> Step {
        STEPS
            .into_iter()
            .find(|s| errs.0.iter().any(|e| s.asks(&e.field)))
            .unwrap_or(Step::Jenis)
    }
}

/// One answer on the check page, with the step that changes it.
pub struct Answer {
    pub label: String,
    pub value: String,
    pub step: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "lapor.html")]
struct ReportStep {
    ctx: Ctx,
    has_htmx: bool,
    step: &'static str,
    /// "Langkah 2 dari 5" (empty on the check page).
    progress: String,
    back: Option<&'static str>,
    /// The answers given so far, carried as hidden fields (the step's own fields left out).
    carried: Vec<(String, String)>,
    /// Reached the check page once: "Lanjut" goes back there.
    reviewed: bool,
    form: Form,
    categories: Vec<Category>,
    /// The chosen category (its extra questions are asked with the story).
    category: Option<Category>,
    kelurahan: Vec<(String, String)>,
    photos: Vec<Uuid>,
    map: Option<MapView>,
    answers: Vec<Answer>,
    nearby: Vec<Nearby>,
}

/// `/lapor`: the first question.
pub async fn new_report(State(st): State<AppState>, s: SignedIn) -> AppResult<impl IntoResponse> {
    let mut form = Form::new();
    form.set("privacy", "public");
    render(&st, &s, Step::Jenis, form, &BTreeMap::new(), vec![], false).await
}

type Fields = BTreeMap<String, Vec<String>>;

fn input_of(fields: &Fields, photos: &[Uuid]) -> ReportInput {
    ReportInput {
        category: one(fields, "category"),
        description: one(fields, "description"),
        privacy: one(fields, "privacy"),
        lat: one(fields, "lat"),
        lon: one(fields, "lon"),
        kelurahan: one(fields, "kelurahan"),
        address: one(fields, "address"),
        answers: fields
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("q_")
                    .map(|q| (q.to_string(), v.first().cloned().unwrap_or_default()))
            })
            .collect(),
        photos: photos.to_vec(),
    }
}

/// A step posted: on to the next one (or back, or to the one asked for), or the report sent.
pub async fn submit_report(
    State(st): State<AppState>,
    s: SignedIn,
    mp: Multipart,
) -> AppResult<Response> {
    let (fields, files, file_errs) = read_multipart(&st, &s, mp, &["photo"]).await?;
    // Photos saved in an earlier step or try travel by id (never asked for twice).
    let mut photos: Vec<Uuid> = Vec::new();
    for id in fields
        .get("photo_id")
        .into_iter()
        .flatten()
        .filter_map(|v| Uuid::parse_str(v).ok())
        .chain(files.iter().map(|(_, id)| *id))
    {
        if !photos.contains(&id) {
            photos.push(id);
        }
    }
    let input = input_of(&fields, &photos);
    let at = Step::parse(&one(&fields, "langkah"));
    let go = one(&fields, "ke");
    let reviewed = at == Some(Step::Periksa) || !one(&fields, "periksa").is_empty();
    let form_of = |errs: &FieldErrors| {
        let mut form = Form::new().with_errors(errs, s.ctx.lang);
        for (k, v) in &fields {
            form.set(k, v.first().map(String::as_str).unwrap_or(""));
        }
        form
    };
    let refused = async |errs: FieldErrors, step: Step| -> AppResult<Response> {
        let kept = kept_photos(&st, &s, &photos).await?;
        let page = render(&st, &s, step, form_of(&errs), &fields, kept, reviewed).await?;
        Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
    };
    let Some(at) = at.filter(|_| go != "kirim") else {
        // Sent: the whole report at once.
        if !file_errs.0.is_empty() {
            return refused(file_errs, Step::Foto).await;
        }
        return match store::submit(
            &st.db,
            &st.notifier,
            &st.files,
            &s.ctx.city,
            &s.user,
            &input,
        )
        .await
        {
            Ok(r) => Ok(Redirect::to(
                &s.ctx
                    .url(&format!("{}?baru=1", store::public_path(&r.code))),
            )
            .into_response()),
            Err(AppError::Invalid(errs)) => {
                let step = Step::first_with(&errs);
                refused(errs, step).await
            }
            Err(e) => Err(e),
        };
    };
    // Back, or straight to a step ("Ubah"): nothing is checked.
    let jump = match go.as_str() {
        "kembali" => at.prev(),
        code => Step::parse(code).filter(|s| *s != Step::Periksa),
    };
    let to = match jump {
        Some(to) => to,
        None => {
            // On: this step's answers must stand; then the next step, or the check page again.
            let errs = store::problems(&st.db, &st.files, &s.ctx.city, &s.user, &input).await?;
            let mine = FieldErrors(
                file_errs
                    .0
                    .into_iter()
                    .chain(errs.0.iter().filter(|e| at.asks(&e.field)).cloned())
                    .collect(),
            );
            if !mine.0.is_empty() {
                return refused(mine, at).await;
            }
            let to = if reviewed { Step::Periksa } else { at.next() };
            // Everything must stand before it is shown to check.
            if to == Step::Periksa && !errs.0.is_empty() {
                let first = Step::first_with(&errs);
                return refused(errs, first).await;
            }
            to
        }
    };
    let kept = kept_photos(&st, &s, &photos).await?;
    let page = render(
        &st,
        &s,
        to,
        form_of(&FieldErrors::default()),
        &fields,
        kept,
        reviewed,
    );
    Ok(page.await?.into_response())
}

/// The photos that are really the sender's, at most as many as a report takes.
async fn kept_photos(st: &AppState, s: &SignedIn, photos: &[Uuid]) -> AppResult<Vec<Uuid>> {
    let mut kept = Vec::new();
    for id in photos.iter().take(store::MAX_PHOTOS) {
        if st
            .files
            .get(&st.db, &s.ctx.city, *id)
            .await?
            .is_some_and(|f| f.owner_id == Some(s.user.id))
        {
            kept.push(*id);
        }
    }
    Ok(kept)
}

async fn render(
    st: &AppState,
    s: &SignedIn,
    step: Step,
    form: Form,
    fields: &Fields,
    photos: Vec<Uuid>,
    reviewed: bool,
) -> AppResult<ReportStep> {
    let ctx = s.ctx.clone();
    let categories = store::categories(st.db.conn(), &ctx.city, true).await?;
    let chosen = one(fields, "category");
    let category = categories.iter().find(|c| c.code == chosen).cloned();
    let map = if step == Step::Lokasi {
        let box_ = store::settings(st.db.conn(), &ctx.city).await?;
        Some(MapView::new(&st.settings, box_.centre(), 13).picking("lat", "lon"))
    } else {
        None
    };
    let carried = fields
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "langkah" | "ke" | "periksa" | "_csrf" | "photo_id"
            ) && !step.asks(k)
        })
        .filter_map(|(k, v)| v.first().map(|v| (k.clone(), v.clone())))
        .collect();
    let point = match (
        one(fields, "lat").parse::<f64>(),
        one(fields, "lon").parse::<f64>(),
    ) {
        (Ok(a), Ok(b)) if a.is_finite() && b.is_finite() => Some((a, b)),
        _ => None,
    };
    let (answers, nearby) = if step == Step::Periksa {
        let nearby = match point {
            Some(p) => {
                store::nearby(
                    &st.db,
                    &ctx.city,
                    &chosen,
                    p,
                    Some(s.user.id),
                    st.notifier.now(),
                )
                .await?
            }
            None => vec![],
        };
        (answers_of(&ctx, fields, category.as_ref(), point), nearby)
    } else {
        (vec![], vec![])
    };
    let shown = STEPS.len() - 1;
    Ok(ReportStep {
        step: step.code(),
        progress: if step == Step::Periksa {
            String::new()
        } else {
            platform::i18n::t_args(
                ctx.lang,
                "mas-step-of",
                &[
                    ("n", (step.index() + 1).to_string()),
                    ("total", shown.to_string()),
                ],
            )
        },
        back: step.prev().map(Step::code),
        carried,
        reviewed,
        kelurahan: kelurahan_options(&ctx),
        has_htmx: has_htmx(),
        form,
        categories,
        category,
        photos,
        map,
        answers,
        nearby,
        ctx,
    })
}

/// The answers in words, for the check page.
fn answers_of(
    ctx: &Ctx,
    fields: &Fields,
    category: Option<&Category>,
    point: Option<(f64, f64)>,
) -> Vec<Answer> {
    let mut out = Vec::new();
    out.push(Answer {
        label: ctx.t("mas-field-category"),
        value: category
            .map(|c| c.name_for(ctx.lang_code()).to_string())
            .unwrap_or_default(),
        step: Step::Jenis.code(),
    });
    let kel = one(fields, "kelurahan");
    let kel = ctx
        .city
        .villages()
        .into_iter()
        .find(|v| v.code == kel)
        .map(|v| format!("Kel. {}", v.name));
    let place = [
        one(fields, "address"),
        kel.unwrap_or_default(),
        point
            .map(|(a, b)| format!("{a:.5}, {b:.5}"))
            .unwrap_or_default(),
    ]
    .into_iter()
    .filter(|x| !x.is_empty())
    .collect::<Vec<_>>()
    .join(" · ");
    out.push(Answer {
        label: ctx.t("mas-field-location"),
        value: place,
        step: Step::Lokasi.code(),
    });
    out.push(Answer {
        label: ctx.t("mas-field-description"),
        value: one(fields, "description"),
        step: Step::Cerita.code(),
    });
    for q in category.map(|c| c.questions.as_slice()).unwrap_or_default() {
        let v = one(fields, &format!("q_{}", q.code));
        if !v.is_empty() {
            out.push(Answer {
                label: if ctx.lang_code() == "id" {
                    q.label_id.clone()
                } else {
                    q.label_en.clone()
                },
                value: v,
                step: Step::Cerita.code(),
            });
        }
    }
    let privacy = Privacy::parse(&one(fields, "privacy")).unwrap_or(Privacy::Public);
    out.push(Answer {
        label: ctx.t("mas-field-privacy"),
        value: ctx.t(&format!("mas-privacy-{}", privacy.code())),
        step: Step::Privasi.code(),
    });
    out
}
