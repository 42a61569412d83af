//! One error type for every failure a request or a store can meet. It maps to a status, a
//! stable JSON key and, for HTML, a page in the visitor's language (rendered by the web layer).
//! Internal causes are logged with the request id and never shown.

use kernel::FieldErrors;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("login required")]
    Unauthorized,
    #[error("forbidden")]
    Forbidden,
    #[error("the form's security token is missing or wrong")]
    Csrf,
    #[error("invalid input")]
    Invalid(FieldErrors),
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    #[error("too many attempts")]
    TooManyRequests,
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unknown city")]
    UnknownCity,
    #[error("internal error: {0}")]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn invalid(field: &str, key: &'static str) -> AppError {
        AppError::Invalid(kernel::FieldError::new(field, key).into())
    }

    pub fn status(&self) -> u16 {
        match self {
            AppError::NotFound | AppError::UnknownCity => 404,
            AppError::Unauthorized => 401,
            AppError::Forbidden | AppError::Csrf => 403,
            AppError::Invalid(_) => 422,
            AppError::BadRequest(_) => 400,
            AppError::TooManyRequests => 429,
            AppError::PayloadTooLarge => 413,
            AppError::Internal(_) => 500,
        }
    }

    /// The stable key API clients match on.
    pub fn key(&self) -> &'static str {
        match self {
            AppError::NotFound => "not_found",
            AppError::UnknownCity => "unknown_city",
            AppError::Unauthorized => "unauthorized",
            AppError::Forbidden => "forbidden",
            AppError::Csrf => "csrf_invalid",
            AppError::Invalid(_) => "validation_failed",
            AppError::BadRequest(k) => k,
            AppError::TooManyRequests => "too_many_requests",
            AppError::PayloadTooLarge => "payload_too_large",
            AppError::Internal(_) => "internal_error",
        }
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(e: sea_orm::DbErr) -> Self {
        AppError::Internal(anyhow::Error::new(e))
    }
}

pub type AppResult<T> = Result<T, AppError>;
