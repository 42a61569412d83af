//! Uploads, kept in an object store (a folder in the data dir by default; S3-compatible storage
//! when several instances run). Images are recognised by their content, checked against byte and
//! pixel limits, decoded and re-encoded so that EXIF (GPS included) is gone, and given a
//! thumbnail. Anything else is refused with a clear reason.

use std::io::Cursor;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{Datelike, Utc};
use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use serde::Serialize;
use uuid::Uuid;

use crate::audit::{Actor, Change};
use crate::city::City;
use crate::db::Db;
use crate::entity::file;
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Copy)]
pub struct UploadLimits {
    pub max_bytes: usize,
    pub max_pixels: u64,
    pub max_side: u32,
    /// Longest side of the stored image; larger photos are scaled down.
    pub stored_side: u32,
    pub thumb_side: u32,
}

impl Default for UploadLimits {
    fn default() -> Self {
        UploadLimits {
            max_bytes: 10 * 1024 * 1024,
            max_pixels: 40_000_000,
            max_side: 10_000,
            stored_side: 2048,
            thumb_side: 320,
        }
    }
}

#[derive(Clone)]
pub struct FileStore {
    store: Arc<dyn ObjectStore>,
    pub limits: UploadLimits,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StoredFile {
    pub id: Uuid,
    pub content_type: String,
    pub bytes: i64,
    pub width: i32,
    pub height: i32,
    #[serde(skip)]
    pub path: String,
    #[serde(skip)]
    pub thumb_path: String,
    #[serde(skip)]
    pub owner_id: Option<Uuid>,
}

impl From<file::Model> for StoredFile {
    fn from(m: file::Model) -> Self {
        StoredFile {
            id: m.id,
            content_type: m.content_type,
            bytes: m.bytes,
            width: m.width,
            height: m.height,
            path: m.path,
            thumb_path: m.thumb_path,
            owner_id: m.owner_id,
        }
    }
}

pub struct Sanitised {
    pub data: Vec<u8>,
    pub thumb: Vec<u8>,
    pub content_type: &'static str,
    pub ext: &'static str,
    pub width: u32,
    pub height: u32,
}

/// Decodes within limits and re-encodes (dropping all metadata). Error keys: `file_empty`,
/// `file_too_large`, `file_not_image`, `image_too_large`, `image_invalid`.
pub fn sanitise(input: &[u8], limits: &UploadLimits) -> Result<Sanitised, &'static str> {
    if input.is_empty() {
        return Err("file_empty");
    }
    if input.len() > limits.max_bytes {
        return Err("file_too_large");
    }
    let format = image::guess_format(input).map_err(|_| "file_not_image")?;
    if !matches!(
        format,
        ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP
    ) {
        return Err("file_not_image");
    }
    let mut reader = ImageReader::with_format(Cursor::new(input), format);
    let mut l = Limits::default();
    l.max_image_width = Some(limits.max_side);
    l.max_image_height = Some(limits.max_side);
    l.max_alloc = Some(limits.max_pixels * 4);
    reader.limits(l);
    let (w, h) = reader.into_dimensions().map_err(|_| "image_invalid")?;
    if w == 0 || h == 0 {
        return Err("image_invalid");
    }
    if u64::from(w) * u64::from(h) > limits.max_pixels || w > limits.max_side || h > limits.max_side
    {
        return Err("image_too_large");
    }
    let mut reader = ImageReader::with_format(Cursor::new(input), format);
    let mut l = Limits::default();
    l.max_alloc = Some(limits.max_pixels * 4 + 1024);
    reader.limits(l);
    let img = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => "image_too_large",
        _ => "image_invalid",
    })?;
    let img = if img.width().max(img.height()) > limits.stored_side {
        img.resize(
            limits.stored_side,
            limits.stored_side,
            image::imageops::FilterType::Triangle,
        )
    } else {
        img
    };
    let thumb = img.thumbnail(limits.thumb_side, limits.thumb_side);
    let has_alpha = img.color().has_alpha();
    let (data, content_type, ext) = if has_alpha {
        (encode(&img, ImageFormat::Png)?, "image/png", "png")
    } else {
        (encode(&img, ImageFormat::Jpeg)?, "image/jpeg", "jpg")
    };
    let thumb = encode(&DynamicImage::ImageRgb8(thumb.to_rgb8()), ImageFormat::Jpeg)?;
    Ok(Sanitised {
        data,
        thumb,
        content_type,
        ext,
        width: img.width(),
        height: img.height(),
    })
}

fn encode(img: &DynamicImage, format: ImageFormat) -> Result<Vec<u8>, &'static str> {
    let mut out = Cursor::new(Vec::new());
    match format {
        ImageFormat::Jpeg => {
            let rgb = DynamicImage::ImageRgb8(img.to_rgb8());
            let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85);
            rgb.write_with_encoder(enc).map_err(|_| "image_invalid")?;
        }
        _ => img
            .write_to(&mut out, ImageFormat::Png)
            .map_err(|_| "image_invalid")?,
    }
    Ok(out.into_inner())
}

impl FileStore {
    /// A store in a local folder (created if missing).
    pub fn local(dir: &std::path::Path) -> anyhow::Result<FileStore> {
        std::fs::create_dir_all(dir)?;
        let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)?;
        Ok(FileStore {
            store: Arc::new(fs),
            limits: UploadLimits::default(),
        })
    }

    /// Checks, cleans and stores an image, and records it. The field of errors is `file`.
    pub async fn save_image(
        &self,
        db: &Db,
        city: &City,
        actor: &Actor,
        input: Bytes,
    ) -> AppResult<StoredFile> {
        let limits = self.limits;
        let s = tokio::task::spawn_blocking(move || sanitise(&input, &limits))
            .await
            .map_err(|e| AppError::Internal(e.into()))?
            .map_err(|key| AppError::invalid("file", key))?;
        let id = kernel::ids::new_id();
        let year = Utc::now().year();
        let path = format!("{}/{year}/{id}.{}", city.code, s.ext);
        let thumb_path = format!("{}/{year}/{id}_thumb.jpg", city.code);
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&s.data));
        let size = s.data.len() as i64;
        self.store
            .put(&ObjPath::from(path.as_str()), s.data.into())
            .await
            .map_err(|e| AppError::Internal(e.into()))?;
        self.store
            .put(&ObjPath::from(thumb_path.as_str()), s.thumb.into())
            .await
            .map_err(|e| AppError::Internal(e.into()))?;
        let mut tx = db.tx().await?;
        let m = file::ActiveModel {
            city_code: Set(city.code.clone()),
            id: Set(id),
            owner_id: Set(actor.id),
            content_type: Set(s.content_type.into()),
            bytes: Set(size),
            width: Set(s.width as i32),
            height: Set(s.height as i32),
            path: Set(path),
            thumb_path: Set(thumb_path),
            sha256: Set(sha),
            created_at: Set(Utc::now()),
        }
        .insert(&*tx)
        .await?;
        tx.audit(
            &city.code,
            actor,
            Change {
                action: "file.upload",
                subject_type: "file",
                subject_id: id.to_string(),
                before: None,
                after: Some(serde_json::json!({"content_type": m.content_type, "bytes": m.bytes})),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(m.into())
    }

    pub async fn get(&self, db: &Db, city: &City, id: Uuid) -> AppResult<Option<StoredFile>> {
        Ok(file::Entity::find_by_id((city.code.clone(), id))
            .one(db.conn())
            .await?
            .map(Into::into))
    }

    pub async fn read(&self, path: &str) -> AppResult<Bytes> {
        let r = self
            .store
            .get(&ObjPath::from(path))
            .await
            .map_err(|e| AppError::Internal(e.into()))?;
        r.bytes().await.map_err(|e| AppError::Internal(e.into()))
    }
}
